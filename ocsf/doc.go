// Package ocsf maps audit records to events of the Open Cybersecurity
// Schema Framework (OCSF), the schema SIEMs and security lakes (AWS
// Security Lake, Splunk, Datadog, Sentinel) read natively.
//
// # Schema version
//
// Events follow OCSF 1.8.0 (SchemaVersion, written to metadata.version):
// the newest stable release of github.com/ocsf/ocsf-schema when this
// package was written (tag 1.8.0, March 2026; the main branch is
// 1.9.0-dev), so that a consumer gets the current class definitions
// without a release candidate's churn. No optional profile (cloud, osint,
// datetime, …) is applied except trace in API Activity. The tests check
// every event against the schema's own files at that tag (classes,
// objects, dictionary types and enums, constraints), kept in
// testdata/ocsf-schema.
//
// # Mapping
//
// A Mapper picks a class and activity from the record's action:
//
//	action                         class (class_uid)                activity (activity_id)
//	user.login                     Authentication (3002)            Logon (1)
//	user.logout                    Authentication (3002)            Logoff (2)
//	user.register                  Account Change (3001)            Create (1)
//	user.password_change           Account Change (3001)            Password Change (3)
//	user.delete_account            Account Change (3001)            Delete (6)
//	permission.grant               User Access Management (3005)    Assign Privileges (1)
//	permission.revoke              User Access Management (3005)    Revoke Privileges (2)
//	user.role_change               User Access Management (3005)    Assign Privileges (1)
//	anything else                  API Activity (6003)              by the action's verb:
//	  ….create                                                      Create (1)
//	  ….read, ….export                                              Read (2)
//	  ….update                                                      Update (3)
//	  ….delete                                                      Delete (4)
//	  other verbs (api_key.revoke)                                  Other (99)
//
// The verb is the part after the last dot, or failing that its last
// underscore-separated word: "user.profile_update" is an Update. An
// event of activity Other (99) carries the source's verb as its
// activity_name ("revoke" for api_key.revoke), as the schema asks, and
// type_name "<class>: Other". A role change gives the user the new role:
// Assign Privileges, with the role in privileges and the change itself in
// unmapped.changes.
//
// Every event carries class_uid, category_uid, activity_id, type_uid
// (class_uid×100 + activity_id) and their captions; severity_id 1
// (Informational); status_id 1 (Success) or 2 (Failure) — audit's
// "failure" and "error" are both Failure, since the action did not take
// effect, and status_code keeps the audit status ("success", "failure",
// "error"), status_detail the error message; time (OccurredAt, ms since
// the epoch); message ("<action> <status>[: <error message>]");
// metadata with uid (event ID), version, product, correlation_uid
// (request ID), original_time (OccurredAt, RFC 3339 with µs) and
// logged_time (RecordedAt, ms).
//
// The record's fields go to:
//
//	UserID, UserEmail  actor.user.uid, actor.user.email_addr (only when
//	                   UserEmail is an email address by the schema's
//	                   email_t; a failed login records whatever was typed);
//	                   without a user ID, UserEmail is actor.user.name
//	SessionID          actor.session.uid (and session.uid in Authentication)
//	IPAddress          src_endpoint.ip
//	UserAgent          http_request.user_agent
//	RequestID          metadata.correlation_uid (and api.request.uid in API Activity)
//	resource           API Activity: resources[0] {type, uid} when it has
//	                   an ID (an OCSF entity needs a name or a uid; a
//	                   type alone goes to unmapped.resource).
//	                   IAM classes: a resource of type "user" or "account" is
//	                   the target user (user.uid); otherwise the actor is the
//	                   target user. Authentication: a "session" resource is
//	                   session.uid when the record has no session ID.
//	                   User Access Management: a "permission", "role",
//	                   "privilege" or "scope" resource is a privilege; other
//	                   resources with an ID are resources[0].
//	Details, Changes   unmapped.details, unmapped.changes, as stored
//
// unmapped also holds the action (unmapped.action) and, when the class has
// no place for it, the resource (unmapped.resource). User Access
// Management's privileges list the string values of the Details keys
// privilege(s), permission(s), role(s) and scope(s), then the values those
// keys take in Changes — "after" for Assign Privileges, "before" for
// Revoke Privileges — then a privilege resource's ID; the list is empty
// when there are none.
//
// Where a class requires an attribute the record cannot fill, the event
// says so instead of leaving it out: the target user of an IAM event
// without any user is {"name": "unknown"}; the src_endpoint of an API
// Activity without a client address is {"name": "unknown"}; the actor of
// a record without user or session is the application (actor.app_name =
// product name). Authentication names the application as its service.
//
// Records reach this package already cleaned by the Logger: secrets in
// Details and Changes are redacted before they are stored, and the
// mapping adds nothing back. Every field of a record, including the user,
// client address, user agent and request ID, is as the application or
// its middleware recorded it, and may have been supplied by a client.
//
// # Extending
//
// Options.Actions maps the application's own actions to a class and
// activity (checked by New), and Options.Edit may change any field of
// each event after mapping:
//
//	m, err := ocsf.New(&ocsf.Options{
//		Product: ocsf.Product{Name: "Billing", VendorName: "Example Inc"},
//		Actions: map[audit.Action]ocsf.Activity{
//			"user.mfa_enable": {ClassUID: ocsf.ClassAccountChange, ID: 10},
//		},
//		Edit: func(rec *audit.Record, ev *ocsf.Event) {
//			if rec.Status != audit.StatusSuccess && ev.ClassUID == ocsf.ClassAuthentication {
//				ev.SeverityID, ev.Severity = 3, "Medium"
//			}
//		},
//	})
//
// # Output
//
// Map returns an Event; its JSON encoding has a fixed key order (the
// struct's field order; Details and Changes keep the store's canonical,
// sorted order), so the same record always encodes to the same bytes.
// Encoder writes events as NDJSON, one per line. A Mapper is safe for
// concurrent use when its Edit function is; an Encoder is not.
package ocsf
