package ocsf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/ocsf"
)

// The tables below are written from the OCSF schema 1.8.0
// (github.com/ocsf/ocsf-schema, tag 1.8.0): for each class, the attributes
// whose "requirement" is "required" in the class file, in its parent
// (iam.json, application.json: none) and in events/base_event.json; their
// types from dictionary.json; the enums from the class's activity_id and
// the dictionary's severity_id and status_id; and, for the objects, the
// required attributes and "at_least_one" constraints of objects/*.json.
// Profiles included by base_event (cloud, osint, …) apply only when
// selected, and none is.
const schemaVersion = "1.8.0"

// attr is a required attribute: its name, its OCSF type (a scalar type or
// an object name), whether it is an array, and its allowed values when the
// schema enumerates them.
type attr struct {
	name  string
	typ   string
	array bool
	enum  []int64
}

// baseRequired are the required attributes of base_event.json; the enums
// of activity_id, category_uid, class_uid and type_uid come from the class.
func baseRequired(category, class int64, activities []int64) []attr {
	types := make([]int64, len(activities))
	for i, a := range activities {
		types[i] = class*100 + a
	}
	return []attr{
		{name: "activity_id", typ: "integer_t", enum: activities},
		{name: "category_uid", typ: "integer_t", enum: []int64{category}},
		{name: "class_uid", typ: "integer_t", enum: []int64{class}},
		{name: "metadata", typ: "metadata"},
		{name: "severity_id", typ: "integer_t", enum: []int64{0, 1, 2, 3, 4, 5, 6, 99}},
		{name: "time", typ: "timestamp_t"},
		{name: "type_uid", typ: "long_t", enum: types},
	}
}

// requiredByClass is, per class_uid, every required attribute of the class.
func requiredByClass() map[int64][]attr {
	return map[int64][]attr{
		// events/iam/authentication.json
		3002: append(baseRequired(3, 3002, []int64{0, 1, 2, 3, 4, 5, 6, 7, 99}),
			attr{name: "user", typ: "user"}),
		// events/iam/account_change.json
		3001: append(baseRequired(3, 3001, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 99}),
			attr{name: "user", typ: "user"}),
		// events/iam/user_access.json
		3005: append(baseRequired(3, 3005, []int64{0, 1, 2, 99}),
			attr{name: "privileges", typ: "string_t", array: true},
			attr{name: "user", typ: "user"}),
		// events/application/api_activity.json
		6003: append(baseRequired(6, 6003, []int64{0, 1, 2, 3, 4, 99}),
			attr{name: "actor", typ: "actor"},
			attr{name: "api", typ: "api"},
			attr{name: "src_endpoint", typ: "network_endpoint"}),
	}
}

// classAtLeastOne is the class-level "at_least_one" constraint.
func classAtLeastOne() map[int64][]string {
	return map[int64][]string{3002: {"service", "dst_endpoint"}}
}

// object is what objects/<name>.json requires of an object.
type object struct {
	required   []attr
	atLeastOne []string
	// optional are attributes the schema does not require but whose type
	// is checked when the event carries them.
	optional []attr
}

func objects() map[string]object {
	user := object{atLeastOne: []string{"account", "name", "uid"},
		optional: []attr{{name: "uid", typ: "string_t"}, {name: "name", typ: "string_t"}, {name: "email_addr", typ: "email_t"}}}
	entity := object{atLeastOne: []string{"name", "uid"}, // _entity.json
		optional: []attr{{name: "name", typ: "string_t"}}}
	return map[string]object{
		"metadata": {required: []attr{{name: "product", typ: "product"}, {name: "version", typ: "string_t"}},
			optional: []attr{{name: "uid", typ: "string_t"}, {name: "correlation_uid", typ: "string_t"},
				{name: "original_time", typ: "string_t"}, {name: "logged_time", typ: "timestamp_t"},
				{name: "tenant_uid", typ: "string_t"}, {name: "profiles", typ: "string_t", array: true}}},
		// objects/trace.json (the trace profile, profiles/trace.json)
		"trace":   {required: []attr{{name: "uid", typ: "string_t"}}},
		"product": entity,
		"service": entity,
		"user":    user,
		"actor": {atLeastOne: []string{"process", "user", "invoked_by", "session", "app_name", "app_uid"},
			optional: []attr{{name: "user", typ: "user"}, {name: "session", typ: "session"}, {name: "app_name", typ: "string_t"}}},
		"api": {required: []attr{{name: "operation", typ: "string_t"}},
			optional: []attr{{name: "request", typ: "request"}, {name: "service", typ: "service"}}},
		"request": {required: []attr{{name: "uid", typ: "string_t"}}},
		"session": {optional: []attr{{name: "uid", typ: "string_t"}}},
		"network_endpoint": {atLeastOne: []string{"ip", "uid", "name", "hostname", "svc_name", "instance_uid",
			"interface_uid", "interface_name", "domain"},
			optional: []attr{{name: "ip", typ: "ip_t"}, {name: "name", typ: "string_t"}}},
		"http_request":     {optional: []attr{{name: "user_agent", typ: "string_t"}}},
		"resource_details": {optional: []attr{{name: "type", typ: "string_t"}, {name: "uid", typ: "string_t"}}},
	}
}

// classOptional are attributes of the event the classes do not require
// but whose type and enum are checked when present.
func classOptional() []attr {
	return []attr{
		{name: "status_id", typ: "integer_t", enum: []int64{0, 1, 2, 99}},
		{name: "message", typ: "string_t"},
		{name: "actor", typ: "actor"},
		{name: "user", typ: "user"},
		{name: "session", typ: "session"},
		{name: "service", typ: "service"},
		{name: "src_endpoint", typ: "network_endpoint"},
		{name: "http_request", typ: "http_request"},
		{name: "resources", typ: "resource_details", array: true},
		{name: "unmapped", typ: "object"},
		{name: "trace", typ: "trace"},
	}
}

// classAttributes lists the attributes each class (with its parents)
// defines at all, so that an event carries nothing its class lacks.
func classAttributes() map[int64][]string {
	base := []string{"activity_id", "activity_name", "category_name", "category_uid", "class_name", "class_uid",
		"count", "duration", "end_time", "enrichments", "message", "metadata", "observables", "raw_data",
		"raw_data_hash", "raw_data_size", "severity", "severity_id", "start_time", "status", "status_code",
		"status_detail", "status_id", "time", "timezone_offset", "type_name", "type_uid", "unmapped"}
	iam := append(slices.Clone(base), "actor", "http_request", "http_response", "src_endpoint")
	return map[int64][]string{
		3002: append(slices.Clone(iam), "account_switch_type", "account_switch_type_id", "auth_factors",
			"auth_protocol", "auth_protocol_id", "authentication_token", "certificate", "dst_endpoint",
			"is_cleartext", "is_mfa", "is_new_logon", "is_remote", "logon_process", "logon_type",
			"logon_type_id", "service", "session", "user"),
		3001: append(slices.Clone(iam), "auth_factors", "policies", "policy", "user", "user_result"),
		3005: append(slices.Clone(iam), "privileges", "resource", "resources", "user"),
		// "trace" by the trace profile, which api_activity.json lists
		6003: append(slices.Clone(base), "actor", "api", "dst_endpoint", "http_request", "http_response",
			"resources", "src_endpoint", "trace"),
	}
}

// checkValue checks that v has OCSF type typ and, for an enumerated
// attribute, one of the enum's values.
func checkValue(path string, v any, a attr, objs map[string]object) []string {
	if a.array {
		list, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, want an array of %s", path, v, a.typ)}
		}
		var errs []string
		for i, x := range list {
			errs = append(errs, checkValue(fmt.Sprintf("%s[%d]", path, i), x, attr{name: a.name, typ: a.typ, enum: a.enum}, objs)...)
		}
		return errs
	}
	switch a.typ {
	case "integer_t", "long_t", "timestamp_t":
		n, ok := v.(json.Number)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T %v, want %s", path, v, v, a.typ)}
		}
		i, err := n.Int64()
		if err != nil {
			return []string{fmt.Sprintf("%s: got %s, want %s: %v", path, n, a.typ, err)}
		}
		if a.typ == "integer_t" && (i < math.MinInt32 || i > math.MaxInt32) {
			return []string{fmt.Sprintf("%s: got %d, want a 32-bit integer_t", path, i)}
		}
		if a.enum != nil && !slices.Contains(a.enum, i) {
			return []string{fmt.Sprintf("%s: got %d, want one of %v", path, i, a.enum)}
		}
	case "string_t", "email_t":
		if _, ok := v.(string); !ok {
			return []string{fmt.Sprintf("%s: got %T, want %s", path, v, a.typ)}
		}
	case "ip_t":
		s, ok := v.(string)
		if _, err := netip.ParseAddr(s); !ok || err != nil {
			return []string{fmt.Sprintf("%s: got %v, want an ip_t", path, v)}
		}
	case "object":
		if _, ok := v.(map[string]any); !ok {
			return []string{fmt.Sprintf("%s: got %T, want an object", path, v)}
		}
	default:
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, want object %s", path, v, a.typ)}
		}
		o, ok := objs[a.typ]
		if !ok {
			return []string{fmt.Sprintf("%s: object %s missing from the test's table", path, a.typ)}
		}
		return checkObject(path, m, o.required, o.optional, o.atLeastOne, objs)
	}
	return nil
}

// checkObject checks the required attributes, the types of the known
// optional ones, and the at_least_one constraint of one object.
func checkObject(path string, m map[string]any, required, optional []attr, atLeastOne []string, objs map[string]object) []string {
	var errs []string
	for _, a := range required {
		v, ok := m[a.name]
		if !ok || v == nil {
			errs = append(errs, fmt.Sprintf("%s.%s: required, absent", path, a.name))
			continue
		}
		errs = append(errs, checkValue(path+"."+a.name, v, a, objs)...)
	}
	for _, a := range optional {
		if v, ok := m[a.name]; ok {
			errs = append(errs, checkValue(path+"."+a.name, v, a, objs)...)
		}
	}
	if len(atLeastOne) > 0 && !slices.ContainsFunc(atLeastOne, func(k string) bool { _, ok := m[k]; return ok }) {
		errs = append(errs, fmt.Sprintf("%s: has none of %v, want at least one", path, atLeastOne))
	}
	return errs
}

// validate checks an encoded event against the class the event names.
func validate(b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return []string{fmt.Sprintf("not a JSON object: %v", err)}
	}
	n, _ := m["class_uid"].(json.Number)
	class, _ := n.Int64()
	required, ok := requiredByClass()[class]
	if !ok {
		return []string{fmt.Sprintf("class_uid: got %v, want one of the four mapped classes", m["class_uid"])}
	}
	errs := checkObject("event", m, required, classOptional(), classAtLeastOne()[class], objects())
	allowed := classAttributes()[class]
	for k := range m {
		if !slices.Contains(allowed, k) {
			errs = append(errs, fmt.Sprintf("event.%s: not an attribute of class %d", k, class))
		}
	}
	if _, ok := m["trace"]; ok {
		md, _ := m["metadata"].(map[string]any)
		if ps, _ := md["profiles"].([]any); !slices.Contains(ps, any("trace")) {
			errs = append(errs, "event.trace: metadata.profiles does not list the trace profile")
		}
	}
	if v, _ := m["metadata"].(map[string]any); v != nil && v["version"] != schemaVersion {
		errs = append(errs, fmt.Sprintf("metadata.version: got %v, want %s", v["version"], schemaVersion))
	}
	if a, _ := m["activity_id"].(json.Number); a != "" {
		act, _ := a.Int64()
		if tu, _ := m["type_uid"].(json.Number); tu != json.Number(fmt.Sprint(class*100+act)) {
			errs = append(errs, fmt.Sprintf("type_uid: got %v, want %d", tu, class*100+act))
		}
	}
	return errs
}

// TestRequiredAttributes checks every event of the default mapping against
// the OCSF 1.8.0 definition of its class: every required attribute present
// with the schema's type and enum values, the objects' own requirements
// and constraints, and no attribute the class lacks.
func TestRequiredAttributes(t *testing.T) {
	t.Parallel()
	if ocsf.SchemaVersion != schemaVersion {
		t.Fatalf("ocsf.SchemaVersion: got %s, want %s (the version these tables were written from)", ocsf.SchemaVersion, schemaVersion)
	}
	m := mustNew(t, nil)
	seen := map[int]bool{}
	for _, tt := range cases() {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(m.Map(&tt.rec))
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			for _, e := range validate(b) {
				t.Error(e)
			}
		})
		seen[tt.class] = true
	}
	for class := range requiredByClass() {
		if !seen[int(class)] {
			t.Errorf("class %d: no case maps to it", class)
		}
	}
}

// TestValidateCatchesMissing shows that validate fails an event that
// lacks what its class requires, so TestRequiredAttributes can fail.
func TestValidateCatchesMissing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(ev *ocsf.Event)
	}{
		{"no user", func(ev *ocsf.Event) { ev.User = nil }},
		{"empty user", func(ev *ocsf.Event) { ev.User = &ocsf.User{EmailAddr: "a@example.com"} }},
		{"no service", func(ev *ocsf.Event) { ev.Service = nil }},
		{"activity outside the enum", func(ev *ocsf.Event) { ev.ActivityID, ev.TypeUID = 42, 300242 }},
		{"wrong type_uid", func(ev *ocsf.Event) { ev.TypeUID = 300299 }},
		{"no product name", func(ev *ocsf.Event) { ev.Metadata.Product = ocsf.Product{VendorName: "x"} }},
		{"wrong version", func(ev *ocsf.Event) { ev.Metadata.Version = "1.0.0" }},
		{"api in an IAM class", func(ev *ocsf.Event) { ev.API = &ocsf.API{Operation: "x"} }},
		{"bad ip", func(ev *ocsf.Event) { ev.SrcEndpoint = &ocsf.Endpoint{IP: "not an ip"} }},
	}
	login := cases()[0].rec
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustNew(t, &ocsf.Options{Edit: func(_ *audit.Record, ev *ocsf.Event) { tt.edit(ev) }})
			b, err := json.Marshal(m.Map(&login))
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if errs := validate(b); len(errs) == 0 {
				t.Errorf("validate: got no error, want one for %s:\n%s", tt.name, b)
			}
		})
	}
}
