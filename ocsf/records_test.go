package ocsf_test

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/trailmark/audit"
)

// mappingCase is one record of the default mapping and the class and
// activity it must map to.
type mappingCase struct {
	name     string
	rec      audit.Record
	class    int
	activity int
}

// rec returns a record with every field set, changed by edit.
func rec(n byte, action audit.Action, edit func(r *audit.Record)) audit.Record {
	r := audit.Record{
		ID:           uuid.UUID{0x01, 0x90, 0, 0, 0, 0, 0x70, 0, 0x80, 0, 0, 0, 0, 0, 0, n},
		OccurredAt:   time.Date(2026, 3, 18, 9, 30, 15, 123456000, time.UTC),
		RecordedAt:   time.Date(2026, 3, 18, 9, 30, 15, 200000000, time.UTC),
		UserID:       "u-42",
		UserEmail:    "ada@example.com",
		IPAddress:    netip.MustParseAddr("203.0.113.7"),
		UserAgent:    "Mozilla/5.0 (X11; Linux x86_64)",
		Action:       action,
		ResourceType: "document",
		ResourceID:   "doc-9",
		RequestID:    "req-1",
		SessionID:    "sess-1",
		Status:       audit.StatusSuccess,
		TenantID:     "org-7",
		TraceID:      "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:       "00f067aa0ba902b7",
	}
	if edit != nil {
		edit(&r)
	}
	return r
}

// cases covers every row of the default mapping, the fallbacks for
// records that lack what a class requires, and each status.
func cases() []mappingCase {
	return []mappingCase{
		{"login", rec(1, audit.ActionUserLogin, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "user", "u-42"
			r.Details = json.RawMessage(`{"method":"password","password":"[REDACTED]"}`)
		}), 3002, 1},
		{"login_failure_email_only", rec(2, audit.ActionUserLogin, func(r *audit.Record) {
			r.UserID, r.SessionID, r.ResourceType, r.ResourceID = "", "", "", ""
			r.Status, r.ErrorMessage = audit.StatusFailure, "wrong password"
		}), 3002, 1},
		{"logout_session_resource", rec(3, audit.ActionUserLogout, func(r *audit.Record) {
			r.SessionID, r.ResourceType, r.ResourceID = "", "session", "sess-7"
		}), 3002, 2},
		{"register", rec(4, audit.ActionUserRegister, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "user", "u-43"
			r.Details = json.RawMessage(`{"plan":"free"}`)
		}), 3001, 1},
		{"password_change", rec(5, audit.ActionUserPasswordChange, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "user", "u-42"
		}), 3001, 3},
		{"delete_account", rec(6, audit.ActionUserDeleteAccount, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "account", "u-42"
			r.Status, r.ErrorMessage = audit.StatusError, "database unavailable"
		}), 3001, 6},
		{"permission_grant", rec(7, audit.ActionPermissionGrant, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "user", "u-7"
			r.Details = json.RawMessage(`{"permission":"billing:write","roles":["admin","editor"]}`)
		}), 3005, 1},
		{"permission_revoke_role", rec(8, audit.ActionPermissionRevoke, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "role", "editor"
		}), 3005, 2},
		{"permission_grant_no_privilege", rec(9, audit.ActionPermissionGrant, func(r *audit.Record) {
			r.UserID, r.UserEmail, r.SessionID, r.IPAddress = "", "", "", netip.Addr{}
		}), 3005, 1},
		{"resource_create", rec(10, audit.ActionResourceCreate, func(r *audit.Record) {
			r.Details = json.RawMessage(`{"title":"Q3 plan"}`)
		}), 6003, 1},
		{"resource_read", rec(11, audit.ActionResourceRead, nil), 6003, 2},
		{"resource_update", rec(12, audit.ActionResourceUpdate, func(r *audit.Record) {
			r.Changes = json.RawMessage(`{"title":{"after":"Q4 plan","before":"Q3 plan"}}`)
		}), 6003, 3},
		{"resource_delete", rec(13, audit.ActionResourceDelete, func(r *audit.Record) {
			r.Status, r.ErrorMessage = audit.StatusFailure, "permission denied"
		}), 6003, 4},
		{"api_key_create", rec(14, audit.ActionAPIKeyCreate, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "api_key", "key-1"
			r.Details = json.RawMessage(`{"name":"ci"}`)
		}), 6003, 1},
		{"api_key_revoke", rec(15, audit.ActionAPIKeyRevoke, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "api_key", "key-1"
		}), 6003, 99},
		{"audit_log_export", rec(16, audit.ActionAuditLogExport, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "audit_log", ""
		}), 6003, 2},
		{"profile_update", rec(17, audit.ActionUserProfileUpdate, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "user", "u-42"
		}), 6003, 3},
		{"logger_start_no_request", rec(18, audit.ActionAuditLoggerStart, func(r *audit.Record) {
			*r = audit.Record{ID: r.ID, OccurredAt: r.OccurredAt, Action: r.Action,
				ResourceType: "logger", Status: audit.StatusSuccess}
		}), 6003, 99},
		{"unknown_action", rec(19, "billing.refund", func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "invoice", "inv-3"
			r.Details = json.RawMessage(`{"amount":12.5,"currency":"EUR"}`)
		}), 6003, 99},
		{"login_failure_typed_email", rec(20, audit.ActionUserLogin, func(r *audit.Record) {
			r.UserID, r.SessionID, r.ResourceType, r.ResourceID = "", "", "", ""
			r.UserEmail = "\u202emoc.elpmaxe@ecila" // shown right to left: alice@example.com
			r.Status, r.ErrorMessage = audit.StatusFailure, "no such user"
		}), 3002, 1},
		{"role_change", rec(21, audit.ActionUserRoleChange, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "user", "u-7"
			r.Changes = json.RawMessage(`{"role":{"after":"admin","before":"viewer"}}`)
		}), 3005, 1},
	}
}
