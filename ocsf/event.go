package ocsf

import "encoding/json"

// Event is one OCSF event of class Authentication, Account Change, User
// Access Management or API Activity. Its JSON encoding has the fields in
// the order below; empty optional attributes are left out. Each field is
// named after its OCSF attribute (the JSON key).
//
// Which class-specific fields are set depends on ClassUID: User for the
// three IAM classes, Privileges for User Access Management, Session and
// Service for Authentication, API and Resources for API Activity.
type Event struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name,omitzero"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name,omitzero"`
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name,omitzero"`
	TypeUID      int64  `json:"type_uid"`
	TypeName     string `json:"type_name,omitzero"`
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity,omitzero"`
	StatusID     int    `json:"status_id"`
	Status       string `json:"status,omitzero"`
	StatusCode   string `json:"status_code,omitzero"`
	StatusDetail string `json:"status_detail,omitzero"`
	// Time is when the action happened, in milliseconds since the epoch.
	Time     int64    `json:"time"`
	Message  string   `json:"message,omitzero"`
	Metadata Metadata `json:"metadata"`

	Actor *Actor `json:"actor,omitzero"`
	// User is the target of an IAM activity: the account that logged on,
	// was changed, or was given privileges.
	User *User `json:"user,omitzero"`
	// Privileges is required by User Access Management; it is an empty
	// list, never absent, when the record names none.
	Privileges  []string     `json:"privileges,omitzero"`
	Session     *Session     `json:"session,omitzero"`
	Service     *Service     `json:"service,omitzero"`
	API         *API         `json:"api,omitzero"`
	Resources   []Resource   `json:"resources,omitzero"`
	SrcEndpoint *Endpoint    `json:"src_endpoint,omitzero"`
	HTTPRequest *HTTPRequest `json:"http_request,omitzero"`
	// Trace is the distributed trace of the request, in the classes that
	// take the trace profile (API Activity); Metadata.Profiles then lists
	// "trace".
	Trace    *Trace    `json:"trace,omitzero"`
	Unmapped *Unmapped `json:"unmapped,omitzero"`
}

// Trace is the OCSF trace object: the W3C trace id of the record.
type Trace struct {
	UID string `json:"uid"`
}

// Metadata is the OCSF metadata object.
type Metadata struct {
	// UID is the audit event ID.
	UID string `json:"uid,omitzero"`
	// Version is the OCSF schema version, SchemaVersion.
	Version string  `json:"version"`
	Product Product `json:"product"`
	// CorrelationUID is the request ID.
	CorrelationUID string `json:"correlation_uid,omitzero"`
	// OriginalTime is the record's OccurredAt as RFC 3339 with
	// microseconds, as audit stores it.
	OriginalTime string `json:"original_time,omitzero"`
	// LoggedTime is the record's RecordedAt in milliseconds since the
	// epoch; absent when the store set none.
	LoggedTime int64 `json:"logged_time,omitzero"`
	// TenantUID is the record's TenantID.
	TenantUID string `json:"tenant_uid,omitzero"`
	// Profiles lists the OCSF profiles the event uses: "trace" when it
	// carries a Trace.
	Profiles []string `json:"profiles,omitzero"`
}

// Product is the OCSF product object: the application that reported the
// event.
type Product struct {
	Name       string `json:"name,omitzero"`
	VendorName string `json:"vendor_name,omitzero"`
	Version    string `json:"version,omitzero"`
}

// Actor is the OCSF actor object: who performed the activity.
type Actor struct {
	User    *User    `json:"user,omitzero"`
	Session *Session `json:"session,omitzero"`
	// AppName is set to the product name when the record names neither a
	// user nor a session, as the schema requires one of them.
	AppName string `json:"app_name,omitzero"`
}

// User is the OCSF user object.
type User struct {
	UID       string `json:"uid,omitzero"`
	Name      string `json:"name,omitzero"`
	EmailAddr string `json:"email_addr,omitzero"`
}

// Session is the OCSF session object.
type Session struct {
	UID string `json:"uid,omitzero"`
}

// Service is the OCSF service object.
type Service struct {
	Name string `json:"name,omitzero"`
}

// API is the OCSF api object.
type API struct {
	// Operation is the audit action ("resource.update").
	Operation string   `json:"operation"`
	Request   *Request `json:"request,omitzero"`
	Service   *Service `json:"service,omitzero"`
}

// Request is the OCSF request object; UID is the request ID.
type Request struct {
	UID string `json:"uid"`
}

// Resource is the OCSF resource_details object, reduced to what a record
// knows.
type Resource struct {
	Type string `json:"type,omitzero"`
	UID  string `json:"uid,omitzero"`
}

// Endpoint is the OCSF network_endpoint object.
type Endpoint struct {
	IP   string `json:"ip,omitzero"`
	Name string `json:"name,omitzero"`
}

// HTTPRequest is the OCSF http_request object.
type HTTPRequest struct {
	UserAgent string `json:"user_agent,omitzero"`
}

// Unmapped holds what OCSF has no attribute for: the audit action itself
// (the class and activity keep only its kind), the resource when the class
// has no place for it, and the record's Details and Changes as the store
// holds them (already redacted by the Logger).
type Unmapped struct {
	Action   string    `json:"action"`
	Resource *Resource `json:"resource,omitzero"`
	// Details is the record's Details object. Bytes that are not valid
	// JSON are kept as one JSON string.
	Details json.RawMessage `json:"details,omitzero"`
	// Changes is the record's Changes object, {"field": {"before": …,
	// "after": …}}, kept like Details.
	Changes json.RawMessage `json:"changes,omitzero"`
	// TraceID is the record's trace id where the class has no trace
	// object; SpanID its span id (the OCSF span object requires start and
	// end times, which a record does not know).
	TraceID string `json:"trace_id,omitzero"`
	SpanID  string `json:"span_id,omitzero"`
}
