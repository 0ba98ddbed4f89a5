package ocsf_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/trailmark/audit"
	"github.com/trailmark/audit/ocsf"
)

// FuzzMap checks that no record makes the Mapper panic, produce invalid
// JSON, or leave out what its class requires. The corpus is seeded from
// the default-mapping table.
func FuzzMap(f *testing.F) {
	for _, tt := range cases() {
		r := tt.rec
		ip, _ := r.IPAddress.MarshalText()
		f.Add(r.ID[:], r.OccurredAt.UnixMicro(), r.RecordedAt.UnixMicro(), r.UserID, r.UserEmail, string(ip),
			r.UserAgent, string(r.Action), r.ResourceType, r.ResourceID, []byte(r.Details), []byte(r.Changes),
			r.RequestID, r.SessionID, string(r.Status), r.ErrorMessage)
	}
	f.Add([]byte{}, int64(0), int64(-1), "\xff", "", "::1", "\x00", ".", "user", "", []byte("{"), []byte("[1,"),
		"", "", "nope", "\xfe")
	m := mustNew(f, nil)
	f.Fuzz(func(t *testing.T, id []byte, occurred, recorded int64, userID, email, ip, ua, action, rtype, rid string,
		details, changes []byte, reqID, sessID, status, errMsg string) {
		r := audit.Record{
			UserID: userID, UserEmail: email, UserAgent: ua,
			Action: audit.Action(action), ResourceType: rtype, ResourceID: rid,
			Details: details, Changes: changes,
			RequestID: reqID, SessionID: sessID, Status: audit.Status(status), ErrorMessage: errMsg,
		}
		copy(r.ID[:], id)
		if occurred != 0 {
			r.OccurredAt = time.UnixMicro(occurred)
		}
		if recorded != 0 {
			r.RecordedAt = time.UnixMicro(recorded)
		}
		r.IPAddress, _ = netip.ParseAddr(ip)
		before := r.Clone()

		var buf bytes.Buffer
		if err := ocsf.NewEncoder(&buf, m).Encode(&r); err != nil {
			t.Fatalf("Encode: %v", err)
		}
		line := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if bytes.ContainsRune(line, '\n') || !json.Valid(line) {
			t.Fatalf("not one line of valid JSON: %q", buf.Bytes())
		}
		for _, e := range validate(line) {
			if strings.HasPrefix(e, "warning: ") {
				continue // such as activity_name "Other" for an action "x.Other"
			}
			t.Error(e)
		}
		if r.ID != before.ID || !bytes.Equal(r.Details, before.Details) || !bytes.Equal(r.Changes, before.Changes) {
			t.Errorf("Map changed the record")
		}
		if r.ID != uuid.Nil {
			var ev struct {
				Metadata struct{ UID string } `json:"metadata"`
			}
			if err := json.Unmarshal(line, &ev); err != nil || ev.Metadata.UID != r.ID.String() {
				t.Errorf("metadata.uid: got %q (%v), want %s", ev.Metadata.UID, err, r.ID)
			}
		}
	})
}
