package ocsf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/trailmark/audit"
)

// ErrActivity reports an Options.Actions entry naming a class this package
// does not produce or an activity ID the class does not define.
var ErrActivity = errors.New("audit: ocsf: unknown class or activity")

// Activity is an OCSF event class and one of its activity IDs.
type Activity struct {
	ClassUID int // ClassAuthentication, ClassAccountChange, ClassUserAccess or ClassAPIActivity
	ID       int // an activity_id the class defines, ActivityUnknown or ActivityOther
}

// Options configures a Mapper. The zero value (and nil) means the
// defaults; New copies it.
type Options struct {
	// Product names the application in metadata.product. Zero means
	// {Name: "Trailmark", VendorName: "Trailmark"}. Its Name also names
	// the service of Authentication events and of api.service.
	Product Product
	// Actions maps actions to a class and activity, overriding the default
	// mapping (see the package documentation) for those actions.
	Actions map[audit.Action]Activity
	// Edit, when set, is called last with the record and its event, and
	// may change any field of the event (severity, product, extra
	// privileges, …). It must not modify rec. The event it leaves should
	// still carry the attributes its class requires.
	Edit func(rec *audit.Record, ev *Event)
}

// Mapper maps audit records to OCSF events. It is safe for concurrent use
// when its Edit function is.
type Mapper struct {
	product Product
	actions map[audit.Action]Activity
	edit    func(*audit.Record, *Event)
	classes map[int]class
	email   *regexp.Regexp
}

// emailPattern is the regex of the OCSF type email_t (dictionary.json of
// the schema 1.8.0); email_addr holds only what matches it.
const emailPattern = "^[a-zA-Z0-9!#$%&'*+-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\\.[a-zA-Z0-9-.]+$"

// New returns a Mapper with the given options. It returns an error
// wrapping ErrActivity when an entry of opts.Actions names a class or
// activity this package does not produce. opts may be nil.
func New(opts *Options) (*Mapper, error) {
	if opts == nil {
		opts = &Options{}
	}
	m := &Mapper{product: opts.Product, edit: opts.Edit, classes: classes(), email: regexp.MustCompile(emailPattern)}
	if m.product == (Product{}) {
		m.product = Product{Name: "Trailmark", VendorName: "Trailmark"}
	}
	m.actions = make(map[audit.Action]Activity, len(opts.Actions))
	for a, act := range opts.Actions {
		c, ok := m.classes[act.ClassUID]
		if !ok {
			return nil, fmt.Errorf("%w: action %q: class_uid %d", ErrActivity, a, act.ClassUID)
		}
		if _, ok := c.activities[act.ID]; !ok {
			return nil, fmt.Errorf("%w: action %q: activity_id %d of class %d", ErrActivity, a, act.ID, act.ClassUID)
		}
		m.actions[a] = act
	}
	return m, nil
}

// defaultActivity is the fixed part of the default mapping; every other
// action is API Activity (see apiActivity).
func defaultActivity(a audit.Action) (Activity, bool) {
	switch a {
	case audit.ActionUserLogin:
		return Activity{ClassAuthentication, ActivityLogon}, true
	case audit.ActionUserLogout:
		return Activity{ClassAuthentication, ActivityLogoff}, true
	case audit.ActionUserRegister:
		return Activity{ClassAccountChange, ActivityAccountCreate}, true
	case audit.ActionUserPasswordChange:
		return Activity{ClassAccountChange, ActivityAccountPasswordChange}, true
	case audit.ActionUserDeleteAccount:
		return Activity{ClassAccountChange, ActivityAccountDelete}, true
	case audit.ActionPermissionGrant:
		return Activity{ClassUserAccess, ActivityAssignPrivileges}, true
	case audit.ActionPermissionRevoke:
		return Activity{ClassUserAccess, ActivityRevokePrivileges}, true
	case audit.ActionUserRoleChange:
		// The user is given the new role: the privileges of the event.
		return Activity{ClassUserAccess, ActivityAssignPrivileges}, true
	}
	return Activity{}, false
}

// apiActivity picks the API Activity activity from the verb of an action:
// the part after the last dot, or failing that its last underscore-separated
// word ("user.profile_update" → Update).
func apiActivity(a audit.Action) Activity {
	verb := string(a)
	if i := strings.LastIndexByte(verb, '.'); i >= 0 {
		verb = verb[i+1:]
	}
	for {
		switch verb {
		case "create":
			return Activity{ClassAPIActivity, ActivityCreate}
		case "read", "export":
			return Activity{ClassAPIActivity, ActivityRead}
		case "update":
			return Activity{ClassAPIActivity, ActivityUpdate}
		case "delete":
			return Activity{ClassAPIActivity, ActivityDelete}
		}
		i := strings.LastIndexByte(verb, '_')
		if i < 0 {
			return Activity{ClassAPIActivity, ActivityOther}
		}
		verb = verb[i+1:]
	}
}

// Activity returns the class and activity a record of action a maps to:
// the Options.Actions entry, else the default mapping.
func (m *Mapper) Activity(a audit.Action) Activity {
	if act, ok := m.actions[a]; ok {
		return act
	}
	if act, ok := defaultActivity(a); ok {
		return act
	}
	return apiActivity(a)
}

// Map returns the OCSF event of rec. It never fails: every record, however
// malformed, yields an event whose class's required attributes are all
// present and whose JSON encoding is valid.
func (m *Mapper) Map(rec *audit.Record) Event {
	act := m.Activity(rec.Action)
	c := m.classes[act.ClassUID]
	ev := Event{
		ActivityID:   act.ID,
		ActivityName: activityName(rec.Action, act.ID, c),
		CategoryUID:  c.categoryUID,
		CategoryName: c.categoryName,
		ClassUID:     act.ClassUID,
		ClassName:    c.name,
		TypeUID:      int64(act.ClassUID)*100 + int64(act.ID),
		TypeName:     c.name + ": " + c.activities[act.ID],
		SeverityID:   SeverityInformational,
		Severity:     severityName(SeverityInformational),
		StatusCode:   string(rec.Status),
		StatusDetail: rec.ErrorMessage,
		Time:         rec.OccurredAt.UnixMilli(),
		Message:      message(rec),
		Metadata: Metadata{
			UID:            rec.ID.String(),
			Version:        SchemaVersion,
			Product:        m.product,
			CorrelationUID: rec.RequestID,
			OriginalTime:   rec.OccurredAt.UTC().Format(time.RFC3339Nano),
			TenantUID:      rec.TenantID,
		},
		Unmapped: &Unmapped{
			Action:  string(rec.Action),
			Details: keepJSON(rec.Details),
			Changes: keepJSON(rec.Changes),
			TraceID: rec.TraceID,
			SpanID:  rec.SpanID,
		},
	}
	ev.StatusID, ev.Status = status(rec.Status)
	if !rec.RecordedAt.IsZero() {
		ev.Metadata.LoggedTime = rec.RecordedAt.UnixMilli()
	}
	ev.Actor = m.actor(rec)
	if rec.IPAddress.IsValid() {
		ev.SrcEndpoint = &Endpoint{IP: rec.IPAddress.String()}
	}
	if rec.UserAgent != "" {
		ev.HTTPRequest = &HTTPRequest{UserAgent: rec.UserAgent}
	}

	res := &Resource{Type: rec.ResourceType, UID: rec.ResourceID}
	if *res == (Resource{}) {
		res = nil
	}
	switch act.ClassUID {
	case ClassAuthentication, ClassAccountChange, ClassUserAccess:
		var used bool
		ev.User, used = m.targetUser(rec)
		if used {
			res = nil
		}
	}
	switch act.ClassUID {
	case ClassAuthentication:
		// The schema requires service or dst_endpoint: the application is
		// the service the user authenticates to.
		ev.Service = &Service{Name: m.product.Name}
		switch {
		case rec.SessionID != "":
			ev.Session = &Session{UID: rec.SessionID}
		case res != nil && res.Type == "session" && res.UID != "":
			ev.Session, res = &Session{UID: res.UID}, nil
		}
	case ClassUserAccess:
		ev.Privileges = privileges(rec, act.ID)
		if res != nil && isPrivilegeType(res.Type) && res.UID != "" {
			res = nil
		}
		if res != nil && res.UID != "" { // an entity needs a name or a uid
			ev.Resources, res = []Resource{*res}, nil
		}
	case ClassAPIActivity:
		ev.API = &API{Operation: string(rec.Action), Service: &Service{Name: m.product.Name}}
		if rec.RequestID != "" {
			ev.API.Request = &Request{UID: rec.RequestID}
		}
		if res != nil && res.UID != "" { // an entity needs a name or a uid
			ev.Resources, res = []Resource{*res}, nil
		}
		if ev.SrcEndpoint == nil {
			// Required by API Activity; the record does not know it.
			ev.SrcEndpoint = &Endpoint{Name: unknown}
		}
		if rec.TraceID != "" { // the class takes the trace profile
			ev.Trace, ev.Unmapped.TraceID = &Trace{UID: rec.TraceID}, ""
			ev.Metadata.Profiles = []string{"trace"}
		}
	}
	ev.Unmapped.Resource = res
	if m.edit != nil {
		m.edit(rec, &ev)
	}
	return ev
}

// unknown stands in for a required name the record does not know.
const unknown = "unknown"

// status maps an audit status to status_id and its caption. Failure and
// Error are both Failure: the action did not take effect; status_code
// keeps which one it was.
func status(s audit.Status) (int, string) {
	switch s {
	case audit.StatusSuccess:
		return StatusSuccess, "Success"
	case audit.StatusFailure, audit.StatusError:
		return StatusFailure, "Failure"
	}
	return StatusUnknown, "Unknown"
}

func message(rec *audit.Record) string {
	msg := string(rec.Action) + " " + string(rec.Status)
	if rec.ErrorMessage != "" {
		msg += ": " + rec.ErrorMessage
	}
	return msg
}

// activityName is the caption of activity id of class c, or for
// ActivityOther the source's own verb: the action after its last dot
// ("api_key.revoke" → "revoke"), as the schema asks of a 99 (Other).
func activityName(a audit.Action, id int, c class) string {
	if id != ActivityOther {
		return c.activities[id]
	}
	verb := string(a)
	if i := strings.LastIndexByte(verb, '.'); i >= 0 {
		verb = verb[i+1:]
	}
	return verb
}

// emailAddr is s when it is an email address (the schema's email_t),
// else "": a failed login records whatever was typed.
func (m *Mapper) emailAddr(s string) string {
	if m.email.MatchString(s) {
		return s
	}
	return ""
}

// actor is the record's user and session, or the application when the
// record names neither.
func (m *Mapper) actor(rec *audit.Record) *Actor {
	a := &Actor{User: m.actorUser(rec)}
	if rec.SessionID != "" {
		a.Session = &Session{UID: rec.SessionID}
	}
	if a.User == nil && a.Session == nil {
		a.AppName = m.product.Name
	}
	return a
}

// actorUser is the record's user. The schema wants a uid or a name: an
// email without a user ID is also the name. UserEmail is the email_addr
// only when it is an email address; what else a client typed stays in the
// name.
func (m *Mapper) actorUser(rec *audit.Record) *User {
	switch {
	case rec.UserID != "":
		return &User{UID: rec.UserID, EmailAddr: m.emailAddr(rec.UserEmail)}
	case rec.UserEmail != "":
		return &User{Name: rec.UserEmail, EmailAddr: m.emailAddr(rec.UserEmail)}
	}
	return nil
}

// isUserType reports whether a resource type names a user account.
func isUserType(t string) bool { return t == "user" || t == "account" }

// isPrivilegeType reports whether a resource type names a privilege.
func isPrivilegeType(t string) bool {
	return t == "permission" || t == "role" || t == "privilege" || t == "scope"
}

// targetUser is the user an IAM activity is about: the resource when it
// is a user or account, else the actor. It reports whether it used the
// resource.
func (m *Mapper) targetUser(rec *audit.Record) (*User, bool) {
	if isUserType(rec.ResourceType) && rec.ResourceID != "" {
		u := &User{UID: rec.ResourceID}
		if rec.ResourceID == rec.UserID {
			u.EmailAddr = m.emailAddr(rec.UserEmail)
		}
		return u, true
	}
	if u := m.actorUser(rec); u != nil {
		return u, false
	}
	return &User{Name: unknown}, false
}

// privileges lists the privileges a record names: the string or
// list-of-strings values of the Details keys privilege(s), permission(s),
// role(s) and scope(s), in that order; then, for Assign Privileges, the
// "after" values of those keys in Changes (the role a user.role_change
// gives), for Revoke Privileges their "before" values; then the resource
// ID when the resource is a permission, role, privilege or scope. The
// list is empty, not nil, when there are none.
func privileges(rec *audit.Record, activity int) []string {
	out := []string{}
	keys := [...]string{"privilege", "privileges", "permission", "permissions", "role", "roles", "scope", "scopes"}
	add := func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	var details map[string]any
	if json.Unmarshal(rec.Details, &details) == nil {
		for _, k := range keys {
			add(details[k])
		}
	}
	side := map[int]string{ActivityAssignPrivileges: "after", ActivityRevokePrivileges: "before"}[activity]
	var changes map[string]map[string]any
	if side != "" && json.Unmarshal(rec.Changes, &changes) == nil {
		for _, k := range keys {
			add(changes[k][side])
		}
	}
	if isPrivilegeType(rec.ResourceType) && rec.ResourceID != "" {
		out = append(out, rec.ResourceID)
	}
	return out
}

// keepJSON returns a copy of b when it is JSON, else b as one JSON
// string, and nil when b is empty or the JSON null.
func keepJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	if json.Valid(b) {
		return bytes.Clone(b)
	}
	s, _ := json.Marshal(string(b)) // a string always encodes
	return s
}
