package ocsf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/ocsf"
)

// The validator below checks events against the OCSF schema's own files:
// testdata/ocsf-schema holds, unchanged, the files of
// github.com/ocsf/ocsf-schema at tag 1.8.0 (commit
// 6fa6499a0f8c9f449d342816e90e5f687c224b0a) that the four classes of this
// package and the objects they carry are made of, and dictionary.json
// trimmed to the attributes those files name (see the README there;
// Apache-2.0, LICENSE and NOTICE beside them). It follows the rules of the
// OCSF server's validator (ocsf-server, lib/schema/validator2.ex):
//
//   - a class is its file merged over the classes it extends, each with
//     the profiles it includes ($include); an object likewise over the
//     objects it extends; an attribute's details are the dictionary's entry
//     with the class's or object's details over it;
//   - attributes of a profile count only when metadata.profiles lists it,
//     unless a class redefines them with "profile": null;
//   - required attributes present; no attribute the class or object does
//     not define (except in the open object "object", such as unmapped);
//   - each value of its dictionary type (integer_t 32-bit, long_t, string
//     types with their regex and max_len, numbers in their range), arrays
//     where is_array, objects checked recursively;
//   - enum values defined (activity_id from the class, class_uid,
//     category_uid and type_uid as the schema compiles them); the sibling
//     of an enum (activity_name, status, …) the enum's caption, or for 99
//     (Other) not the caption "Other" but the source's value (warnings);
//   - the constraints at_least_one and just_one of classes and objects;
//   - type_uid = class_uid * 100 + activity_id; deprecated attributes
//     (warnings).
//
// Warnings are reported with a "warning: " prefix; the tests treat them as
// failures except where noted.

// schemaDir holds the schema files.
const schemaDir = "testdata/ocsf-schema"

// schemaFile is a class, object or profile file.
type schemaFile struct {
	Name        string                     `json:"name"`
	Caption     string                     `json:"caption"`
	Extends     string                     `json:"extends"`
	Category    string                     `json:"category"`
	UID         *int64                     `json:"uid"`
	Attributes  map[string]json.RawMessage `json:"attributes"`
	Constraints map[string][]string        `json:"constraints"`
}

// compiled is a class or an object with its parents and profiles merged.
type compiled struct {
	name        string
	caption     string
	category    string
	uid         int64 // class_uid, for a class
	attrs       map[string]map[string]any
	constraints map[string][]string
}

// ocsfSchema is the schema loaded from schemaDir.
type ocsfSchema struct {
	version    string
	dict       map[string]map[string]any // dictionary attributes
	types      map[string]map[string]any // dictionary types
	regexps    map[string]*regexp.Regexp // by type name
	categories map[string]struct {
		UID     int64  `json:"uid"`
		Caption string `json:"caption"`
	}
	profiles map[string]bool
	files    map[string]map[string]string // "events"/"objects" → name → path
	classes  map[int64]*compiled
	objects  map[string]*compiled
}

// loadSchema is called once by schema.
func loadSchema() (*ocsfSchema, error) {
	s := &ocsfSchema{regexps: map[string]*regexp.Regexp{}, profiles: map[string]bool{},
		files: map[string]map[string]string{"events": {}, "objects": {}}, classes: map[int64]*compiled{}, objects: map[string]*compiled{}}
	var version struct{ Version string }
	if err := readJSON("version.json", &version); err != nil {
		return nil, err
	}
	s.version = version.Version
	var dict struct {
		Attributes map[string]map[string]any `json:"attributes"`
		Types      struct {
			Attributes map[string]map[string]any `json:"attributes"`
		} `json:"types"`
	}
	if err := readJSON("dictionary.json", &dict); err != nil {
		return nil, err
	}
	s.dict, s.types = dict.Attributes, dict.Types.Attributes
	for name, t := range s.types {
		if re, ok := t["regex"].(string); ok {
			r, err := regexp.Compile(re)
			if err != nil {
				return nil, fmt.Errorf("type %s: %w", name, err)
			}
			s.regexps[name] = r
		}
	}
	var cats struct {
		Attributes map[string]struct {
			UID     int64  `json:"uid"`
			Caption string `json:"caption"`
		} `json:"attributes"`
	}
	if err := readJSON("categories.json", &cats); err != nil {
		return nil, err
	}
	s.categories = cats.Attributes
	for _, kind := range []string{"events", "objects", "profiles"} {
		err := filepath.WalkDir(filepath.Join(schemaDir, kind), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			var f schemaFile
			rel, _ := filepath.Rel(schemaDir, path)
			if err := readJSON(rel, &f); err != nil {
				return err
			}
			if kind == "profiles" {
				s.profiles[f.Name] = true
			} else {
				s.files[kind][f.Name] = rel
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for name := range s.files["objects"] { // all now: validate runs in parallel
		if _, err := s.compile("objects", name); err != nil {
			return nil, err
		}
	}
	for name := range s.files["events"] {
		c, err := s.compile("events", name)
		if err != nil {
			return nil, err
		}
		if c.uid != 0 || name == "base_event" {
			s.classes[c.uid] = c
		}
	}
	return s, nil
}

func readJSON(rel string, v any) error {
	b, err := os.ReadFile(filepath.Join(schemaDir, rel))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	return nil
}

// compile merges the file of the class or object name over its parents.
func (s *ocsfSchema) compile(kind, name string) (*compiled, error) {
	if c, ok := s.objects[name]; ok && kind == "objects" {
		return c, nil
	}
	path, ok := s.files[kind][name]
	if !ok {
		return nil, fmt.Errorf("%s %q: no file in %s (add it from the schema)", kind, name, schemaDir)
	}
	var f schemaFile
	if err := readJSON(path, &f); err != nil {
		return nil, err
	}
	c := &compiled{name: f.Name, caption: f.Caption, attrs: map[string]map[string]any{}, constraints: map[string][]string{}}
	if f.Extends != "" {
		p, err := s.compile(kind, f.Extends)
		if err != nil {
			return nil, err
		}
		c.category = p.category
		for k, v := range p.attrs {
			c.attrs[k] = mergeDetails(nil, v)
		}
		for k, v := range p.constraints {
			c.constraints[k] = v
		}
	}
	if f.Category != "" {
		c.category = f.Category
	}
	for k, v := range f.Constraints {
		c.constraints[k] = v
	}
	if inc, ok := f.Attributes["$include"]; ok {
		var paths []string
		if json.Unmarshal(inc, &paths) != nil {
			var one string
			if err := json.Unmarshal(inc, &one); err != nil {
				return nil, fmt.Errorf("%s: $include: %w", path, err)
			}
			paths = []string{one}
		}
		for _, p := range paths {
			var prof schemaFile
			if err := readJSON(p, &prof); err != nil {
				return nil, fmt.Errorf("%s: $include: %w", path, err)
			}
			for k, raw := range prof.Attributes {
				var d map[string]any
				if err := json.Unmarshal(raw, &d); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", p, k, err)
				}
				d["profile"] = prof.Name
				c.attrs[k] = mergeDetails(c.attrs[k], d)
			}
		}
	}
	for k, raw := range f.Attributes {
		if k == "$include" {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		c.attrs[k] = mergeDetails(c.attrs[k], d)
	}
	if kind == "objects" {
		s.objects[name] = c
		return c, nil
	}
	if f.UID != nil {
		cat, ok := s.categories[c.category]
		if !ok {
			return nil, fmt.Errorf("%s: category %q not in categories.json", path, c.category)
		}
		c.uid = cat.UID*1000 + *f.UID
		acts := s.details(c, "activity_id")["enum"].(map[string]any)
		types := map[string]any{}
		for id, v := range acts {
			n, _ := strconv.ParseInt(id, 10, 64)
			types[strconv.FormatInt(c.uid*100+n, 10)] = map[string]any{"caption": c.caption + ": " + caption(v)}
		}
		c.attrs["class_uid"]["enum"] = map[string]any{strconv.FormatInt(c.uid, 10): map[string]any{"caption": c.caption}}
		c.attrs["category_uid"]["enum"] = map[string]any{strconv.FormatInt(cat.UID, 10): map[string]any{"caption": cat.Caption}}
		c.attrs["type_uid"]["enum"] = types
	}
	return c, nil
}

// mergeDetails returns src merged over a copy of dst; enums merge value
// by value.
func mergeDetails(dst, src map[string]any) map[string]any {
	out := make(map[string]any, len(dst)+len(src))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if k == "enum" {
			e := map[string]any{}
			if old, ok := out[k].(map[string]any); ok {
				for id, c := range old {
					e[id] = c
				}
			}
			for id, c := range v.(map[string]any) {
				e[id] = c
			}
			v = e
		}
		out[k] = v
	}
	return out
}

func caption(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["caption"].(string)
	return s
}

// details is the dictionary entry of attribute name with c's details over
// it.
func (s *ocsfSchema) details(c *compiled, name string) map[string]any {
	return mergeDetails(s.dict[name], c.attrs[name])
}

// schemaOnce loads the schema once for all tests.
var schemaOnce = sync.OnceValues(loadSchema)

func schema(t testing.TB) *ocsfSchema {
	t.Helper()
	s, err := schemaOnce()
	if err != nil {
		t.Fatalf("loading the OCSF schema from %s: %v", schemaDir, err)
	}
	return s
}

// validate checks an encoded event against the schema: the errors, then
// the warnings prefixed "warning: ".
func validate(b []byte) []string {
	s, err := schemaOnce()
	if err != nil {
		return []string{fmt.Sprintf("loading the OCSF schema: %v", err)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		return []string{fmt.Sprintf("not a JSON object: %v", err)}
	}
	v := &validator{s: s}
	n, _ := ev["class_uid"].(json.Number)
	uid, err := n.Int64()
	c, ok := s.classes[uid]
	if err != nil || !ok {
		return []string{fmt.Sprintf("class_uid: got %v, want a class of %s", ev["class_uid"], schemaDir)}
	}
	md, _ := ev["metadata"].(map[string]any)
	if ps, ok := md["profiles"].([]any); ok {
		for i, p := range ps {
			name, _ := p.(string)
			if !s.profiles[name] {
				v.errorf("metadata.profiles[%d]: no profile %v", i, p)
			}
			v.profiles = append(v.profiles, name)
		}
	}
	v.object("", ev, c)
	if act, err := jsonInt(ev["activity_id"]); err == nil {
		if tu, err := jsonInt(ev["type_uid"]); err == nil && tu != uid*100+act {
			v.errorf("type_uid: got %d, want %d (class_uid * 100 + activity_id)", tu, uid*100+act)
		}
	}
	return append(v.errs, v.warns...)
}

func jsonInt(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("got %T, want a number", v)
	}
	return n.Int64()
}

// validator collects what one event breaks.
type validator struct {
	s        *ocsfSchema
	profiles []string
	errs     []string
	warns    []string
}

func (v *validator) errorf(format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
}

func (v *validator) warnf(format string, args ...any) {
	v.warns = append(v.warns, "warning: "+fmt.Sprintf(format, args...))
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// object checks m against the class or object c.
func (v *validator) object(path string, m map[string]any, c *compiled) {
	attrs := map[string]map[string]any{}
	for name := range c.attrs {
		d := v.s.details(c, name)
		if p, ok := d["profile"].(string); ok && !slices.Contains(v.profiles, p) {
			continue
		}
		attrs[name] = d
	}
	for name, d := range attrs {
		val, ok := m[name]
		if !ok || val == nil {
			if d["requirement"] == "required" {
				v.errorf("%s: required by %s, absent", join(path, name), c.name)
			}
			continue
		}
		if _, ok := d["@deprecated"]; ok {
			v.warnf("%s: deprecated", join(path, name))
		}
		v.value(join(path, name), val, d)
		if enum, ok := d["enum"].(map[string]any); ok {
			v.enum(path, name, m, val, enum, d)
		}
	}
	if len(attrs) > 0 {
		for name := range m {
			if _, ok := attrs[name]; !ok {
				v.errorf("%s: not an attribute of %s", join(path, name), c.name)
			}
		}
	}
	for kind, names := range c.constraints {
		n := 0
		for _, k := range names {
			if _, ok := m[k]; ok {
				n++
			}
		}
		switch kind {
		case "at_least_one":
			if n == 0 {
				v.errorf("%s: constraint at_least_one of %s %v: got none", path, c.name, names)
			}
		case "just_one":
			if n != 1 {
				v.errorf("%s: constraint just_one of %s %v: got %d", path, c.name, names, n)
			}
		default:
			v.errorf("%s: unknown constraint %s of %s", path, kind, c.name)
		}
	}
}

// enum checks the value of an enumerated attribute and its sibling.
func (v *validator) enum(path, name string, m map[string]any, val any, enum, d map[string]any) {
	key := fmt.Sprint(val)
	e, ok := enum[key]
	if !ok {
		v.errorf("%s: %v is not a value of the enum", join(path, name), val)
		return
	}
	sibling, _ := d["sibling"].(string)
	sv, ok := m[sibling]
	if sibling == "" || !ok {
		return
	}
	switch want := caption(e); {
	case key == "99" && sv == want:
		v.warnf("%s: %q is the caption of %s 99; want the source's own value", join(path, sibling), sv, name)
	case key != "99" && sv != want:
		v.warnf("%s: got %q, want %q, the caption of %s %s", join(path, sibling), sv, want, name, key)
	}
}

// value checks one attribute's value against its type.
func (v *validator) value(path string, val any, d map[string]any) {
	typ, _ := d["type"].(string)
	if typ == "" {
		v.errorf("%s: the schema gives no type", path)
		return
	}
	if d["is_array"] == true {
		list, ok := val.([]any)
		if !ok {
			v.errorf("%s: got %T, want an array of %s", path, val, typ)
			return
		}
		for i, x := range list {
			v.single(fmt.Sprintf("%s[%d]", path, i), x, typ)
		}
		return
	}
	v.single(path, val, typ)
}

// single checks a value, or an element of an array, of type typ.
func (v *validator) single(path string, val any, typ string) {
	t, ok := v.s.types[typ]
	if !ok { // an object
		o, ok := v.s.objects[typ]
		if !ok {
			v.errorf("%s: object %s: no file in %s (add it from the schema)", path, typ, schemaDir)
			return
		}
		m, ok := val.(map[string]any)
		if !ok {
			v.errorf("%s: got %T, want object %s", path, val, typ)
			return
		}
		v.object(path, m, o)
		return
	}
	prim := typ
	if p, ok := t["type"].(string); ok {
		prim = p
	}
	switch prim {
	case "boolean_t":
		if _, ok := val.(bool); !ok {
			v.errorf("%s: got %T %v, want %s", path, val, val, typ)
		}
	case "json_t":
	case "integer_t", "long_t", "float_t":
		n, ok := val.(json.Number)
		if !ok {
			v.errorf("%s: got %T %v, want %s", path, val, val, typ)
			return
		}
		f, err := n.Float64()
		if prim != "float_t" {
			var i int64
			i, err = n.Int64()
			if err == nil && prim == "integer_t" && (i < math.MinInt32 || i > math.MaxInt32) {
				err = fmt.Errorf("outside 32 bits")
			}
		}
		if err != nil {
			v.errorf("%s: got %s, want %s: %v", path, n, typ, err)
			return
		}
		if r, ok := t["range"].([]any); ok && len(r) == 2 {
			lo, _ := r[0].(float64)
			hi, _ := r[1].(float64)
			if f < lo || f > hi {
				v.errorf("%s: %s outside the range %v of %s", path, n, r, typ)
			}
		}
	case "string_t":
		s, ok := val.(string)
		if !ok {
			v.errorf("%s: got %T %v, want %s", path, val, val, typ)
			return
		}
		if ml, ok := t["max_len"].(float64); ok && utf8.RuneCountInString(s) > int(ml) {
			v.errorf("%s: %q longer than the max_len %v of %s", path, s, ml, typ)
		}
		if re := v.s.regexps[typ]; re != nil && !re.MatchString(s) {
			v.errorf("%s: %q does not match the regex of %s", path, s, typ)
		}
	default:
		v.errorf("%s: type %s has the unknown primitive type %s", path, typ, prim)
	}
	if vals, ok := t["values"].([]any); ok && !slices.Contains(vals, val) {
		v.errorf("%s: %v is not one of the values %v of %s", path, val, vals, typ)
	}
}

// actions are the actions the corpus covers: every Action constant of
// package audit and actions of the application's own.
func actions() []audit.Action {
	return []audit.Action{
		audit.ActionUserLogin, audit.ActionUserLogout, audit.ActionUserRegister, audit.ActionUserPasswordChange,
		audit.ActionUserProfileUpdate, audit.ActionUserDeleteAccount, audit.ActionUserRoleChange,
		audit.ActionResourceCreate, audit.ActionResourceRead, audit.ActionResourceUpdate, audit.ActionResourceDelete,
		audit.ActionPermissionGrant, audit.ActionPermissionRevoke, audit.ActionAPIKeyCreate, audit.ActionAPIKeyRevoke,
		audit.ActionAuditLogRead, audit.ActionAuditLogExport, audit.ActionAuditRetentionRun,
		audit.ActionAuditLoggerStart, audit.ActionAuditLoggerStop,
		"billing.refund", "invoice.send_reminder", "report", "", ".", "x.",
	}
}

// variants are records of every shape the Logger and the stores let
// through: every field set, none but the required ones, a failed login
// with whatever was typed as the email, a resource with a type and no id
// or an id and no type, each status.
func variants(n byte, a audit.Action) map[string]audit.Record {
	bare := func(r *audit.Record) {
		*r = audit.Record{ID: r.ID, OccurredAt: r.OccurredAt, Action: r.Action, Status: r.Status}
	}
	return map[string]audit.Record{
		"full": rec(n, a, nil),
		"bare": rec(n, a, bare),
		"typed_email": rec(n, a, func(r *audit.Record) {
			bare(r)
			r.UserEmail, r.Status = "\u202emoc.elpmaxe@ecila", audit.StatusFailure
		}),
		"not_an_email": rec(n, a, func(r *audit.Record) {
			r.UserEmail, r.Status, r.ErrorMessage = "alice", audit.StatusFailure, "no such user"
		}),
		"email_with_newline": rec(n, a, func(r *audit.Record) { r.UserEmail = "ada@example.com\n" }),
		"type_no_id":         rec(n, a, func(r *audit.Record) { r.ResourceType, r.ResourceID = "audit_log", "" }),
		"id_no_type":         rec(n, a, func(r *audit.Record) { r.ResourceType, r.ResourceID = "", "x-1" }),
		"user_type_no_id": rec(n, a, func(r *audit.Record) {
			bare(r)
			r.ResourceType = "user"
		}),
		"role_no_id": rec(n, a, func(r *audit.Record) { r.ResourceType, r.ResourceID = "role", "" }),
		"session_no_id": rec(n, a, func(r *audit.Record) {
			r.SessionID, r.ResourceType, r.ResourceID = "", "session", ""
		}),
		"error":     rec(n, a, func(r *audit.Record) { r.Status, r.ErrorMessage = audit.StatusError, "boom" }),
		"no_status": rec(n, a, func(r *audit.Record) { r.Status = "" }),
		"role_change": rec(n, a, func(r *audit.Record) {
			r.ResourceType, r.ResourceID = "user", "u-7"
			r.Changes = json.RawMessage(`{"role":{"before":"viewer","after":"admin"}}`)
		}),
	}
}

// TestSchemaValidates checks against the OCSF schema every golden file,
// every default-mapping case, and the event of every variant of a record
// for every action: no error and no warning.
func TestSchemaValidates(t *testing.T) {
	t.Parallel()
	s := schema(t)
	if s.version != ocsf.SchemaVersion {
		t.Fatalf("ocsf.SchemaVersion: got %s, want %s (the version of %s)", ocsf.SchemaVersion, s.version, schemaDir)
	}
	m := mustNew(t, nil)
	seen := map[int]bool{}
	check := func(t *testing.T, what string, b []byte) {
		t.Helper()
		for _, e := range validate(b) {
			t.Errorf("%s: %s\n%s", what, e, b)
			break
		}
	}
	t.Run("golden", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join("testdata", "*.golden.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("golden files: %v, %v", files, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			check(t, f, b)
		}
	})
	t.Run("cases", func(t *testing.T) {
		for _, tt := range cases() {
			b, err := json.Marshal(m.Map(&tt.rec))
			if err != nil {
				t.Fatal(err)
			}
			check(t, tt.name, b)
			seen[tt.class] = true
		}
	})
	t.Run("corpus", func(t *testing.T) {
		for i, a := range actions() {
			for name, r := range variants(byte(i), a) {
				ev := m.Map(&r)
				b, err := json.Marshal(ev)
				if err != nil {
					t.Fatal(err)
				}
				check(t, fmt.Sprintf("%q %s", a, name), b)
				seen[ev.ClassUID] = true
			}
		}
	})
	// Every activity the schema defines for each class, chosen through
	// Options.Actions: New accepts it and its events validate.
	t.Run("activities", func(t *testing.T) {
		for _, class := range []int{ocsf.ClassAccountChange, ocsf.ClassAuthentication, ocsf.ClassUserAccess, ocsf.ClassAPIActivity} {
			c, ok := s.classes[int64(class)]
			if !ok {
				continue // reported below
			}
			for id := range s.details(c, "activity_id")["enum"].(map[string]any) {
				n, _ := strconv.Atoi(id)
				am, err := ocsf.New(&ocsf.Options{Actions: map[audit.Action]ocsf.Activity{"app.do_it": {ClassUID: class, ID: n}}})
				if err != nil {
					t.Errorf("class %d activity %d of the schema: New: %v", class, n, err)
					continue
				}
				for name, r := range variants(byte(n), "app.do_it") {
					b, err := json.Marshal(am.Map(&r))
					if err != nil {
						t.Fatal(err)
					}
					check(t, fmt.Sprintf("class %d activity %d %s", class, n, name), b)
				}
			}
		}
	})
	for _, class := range []int{ocsf.ClassAccountChange, ocsf.ClassAuthentication, ocsf.ClassUserAccess, ocsf.ClassAPIActivity} {
		if !seen[class] {
			t.Errorf("class %d: no event of it was validated", class)
		}
		if _, ok := s.classes[int64(class)]; !ok {
			t.Errorf("class %d: not in %s", class, schemaDir)
		}
	}
}

// TestValidateCatches shows that the validator fails events that break
// the schema, so that TestSchemaValidates can fail.
func TestValidateCatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rec  int // index into cases()
		edit func(ev *ocsf.Event)
		want string // part of the first problem
	}{
		{"no user", 0, func(ev *ocsf.Event) { ev.User = nil }, "user: required"},
		{"empty user", 0, func(ev *ocsf.Event) { ev.User = &ocsf.User{EmailAddr: "a@example.com"} }, "at_least_one of user"},
		{"no service", 0, func(ev *ocsf.Event) { ev.Service = nil }, "at_least_one of authentication"},
		{"activity outside the enum", 0, func(ev *ocsf.Event) { ev.ActivityID, ev.TypeUID = 42, 300242 }, "activity_id: 42 is not"},
		{"wrong type_uid", 0, func(ev *ocsf.Event) { ev.TypeUID = 300299 }, "type_uid"},
		{"wrong class_uid", 0, func(ev *ocsf.Event) { ev.ClassUID = 3001 }, ""},
		{"wrong category_uid", 0, func(ev *ocsf.Event) { ev.CategoryUID = 6 }, "category_uid: 6 is not"},
		{"no product name", 0, func(ev *ocsf.Event) { ev.Metadata.Product = ocsf.Product{VendorName: "x"} }, "at_least_one of product"},
		{"api in an IAM class", 0, func(ev *ocsf.Event) { ev.API = &ocsf.API{Operation: "x"} }, "api: not an attribute of authentication"},
		{"bad ip", 0, func(ev *ocsf.Event) { ev.SrcEndpoint = &ocsf.Endpoint{IP: "not an ip"} }, "regex of ip_t"},
		{"not an email", 0, func(ev *ocsf.Event) { ev.User.EmailAddr = "\u202emoc.elpmaxe@ecila" }, "regex of email_t"},
		{"resource with a type only", 9, func(ev *ocsf.Event) { ev.Resources = []ocsf.Resource{{Type: "audit_log"}} },
			"at_least_one of resource_details"},
		{"trace without the profile", 9, func(ev *ocsf.Event) { ev.Metadata.Profiles = nil }, "trace: not an attribute"},
		{"unknown profile", 9, func(ev *ocsf.Event) { ev.Metadata.Profiles = append(ev.Metadata.Profiles, "nope") }, "no profile"},
		{"no src_endpoint", 9, func(ev *ocsf.Event) { ev.SrcEndpoint = nil }, "src_endpoint: required"},
		{"no privileges", 6, func(ev *ocsf.Event) { ev.Privileges = nil }, "privileges: required"},
		{"activity_name Other", 14, func(ev *ocsf.Event) { ev.ActivityName = "Other" }, "warning: activity_name"},
		{"activity_name not the caption", 0, func(ev *ocsf.Event) { ev.ActivityName = "Login" }, "warning: activity_name"},
		{"status not the caption", 0, func(ev *ocsf.Event) { ev.Status = "OK" }, "warning: status"},
		{"severity outside the enum", 0, func(ev *ocsf.Event) { ev.SeverityID = 7 }, "severity_id: 7"},
		{"status_id outside the enum", 0, func(ev *ocsf.Event) { ev.StatusID = 3 }, "status_id: 3"},
	}
	cs := cases()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustNew(t, &ocsf.Options{Edit: func(_ *audit.Record, ev *ocsf.Event) { tt.edit(ev) }})
			b, err := json.Marshal(m.Map(&cs[tt.rec].rec))
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			errs := validate(b)
			if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), tt.want) {
				t.Errorf("validate: got %q, want a problem with %q for %s:\n%s", errs, tt.want, tt.name, b)
			}
		})
	}
	if errs := validate([]byte(`{"class_uid": 4001}`)); len(errs) == 0 {
		t.Errorf("validate of a class not in the schema: got no error")
	}
}
