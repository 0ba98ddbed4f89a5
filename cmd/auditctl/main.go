// Command auditctl administers a Trailmark audit log: it applies the
// PostgreSQL schema, seals and checkpoints the hash chain, verifies the
// chain (in the database or in an export, offline), exports it, queries
// it and applies retention.
//
//	auditctl keygen -o keys.json                      # HMAC key + checkpoint signer, mode 0600
//	auditctl migrate  --db "$DATABASE_URL"            # or --print for the SQL
//	auditctl seal     --db "$DATABASE_URL" --keys keys.json --checkpoints cps.ndjson
//	auditctl verify   --db "$DATABASE_URL" --keys keys.json --checkpoints cps.ndjson
//	auditctl export   --db "$DATABASE_URL" -o chain.ndjson
//	auditctl verify   --export chain.ndjson --keys keys.json --checkpoints cps.ndjson
//	auditctl query    --db "$DATABASE_URL" --user-id u-42 --action user. --since 2026-11-01T00:00:00Z
//	auditctl purge    --db "$DATABASE_URL" --keys keys.json --max-age 2160h
//	auditctl backup   --db sqlite:audit.db -o audit-backup.db   # SQLite: a consistent copy while in use
//	auditctl vkey     --keys keys.json > log.vkey
//	auditctl proof    --db "$DATABASE_URL" --id 0190b3d2-… -o proof.json
//	auditctl verify-proof --proof proof.json --vkey "$(cat log.vkey)"
//	auditctl consistency  --db "$DATABASE_URL" --old kept-checkpoint.txt --vkey "$(cat log.vkey)"
//	auditctl evidence --db "$DATABASE_URL" --tenant-id org-1 -o org-1.evidence.ndjson
//	auditctl verify-evidence --evidence org-1.evidence.ndjson --tenant-id org-1 --vkey "$(cat log.vkey)"
//
// --db defaults to $DATABASE_URL and --keys to $AUDIT_KEYS. verify,
// verify-proof, consistency and verify-evidence exit 1 when the check
// fails, 2 on errors.
//
// auditctl never prints a database password, a key or a key file's
// content: help shows no default taken from the environment, and the
// password of the database URL is masked in every error. Files holding
// keys or records (keygen -o, export -o, backup -o, evidence -o) are created with mode 0600, and
// a key file that others may read is reported on stderr.
package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/internal/safetext"
	"github.com/trailmark/audit/ocsf"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/store/sqlite"
	"github.com/trailmark/audit/storekit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: auditctl <command> [flags]

commands:
  keygen   write a new key file (HMAC chain key and checkpoint signer): -o FILE, or stdout
  migrate  apply the PostgreSQL schema (--print: print the SQL instead)
  seal     seal waiting records and write a signed checkpoint
  verify   verify the hash chain in the database (--db) or an export (--export)
  export   write the chain (seals and records) as NDJSON, for offline verification (--format ocsf: OCSF events)
  query    print records matching filters as NDJSON (--format ocsf: OCSF events)
  purge    apply retention: archive nothing, checkpoint, remove old records
  load     load records from a NATS JetStream stream into the database until SIGINT/SIGTERM
  backup   copy an SQLite audit file while it is in use: -o FILE (a new file, mode 0600)
  vkey     print the log's public key (a signed-note verifier key), for whoever checks proofs
  proof    print a record's inclusion proof, with the record: --id UUID
  verify-proof  check an inclusion proof with the log's public key only (--vkey)
  consistency   prove that the log only grew since a checkpoint (--from, or --old FILE --vkey to check it)
  evidence print a tenant's evidence: its records and their inclusion proofs against one signed checkpoint: --tenant-id T
  verify-evidence  check a tenant's evidence with the log's public key only (--tenant-id, --vkey)
  witness  run a witness (C2SP tlog-witness) that cosigns logs' checkpoints only when they only grew
  witness-keygen  write a new witness key file: -name NAME -o FILE; prints the witness's verifier key

run 'auditctl <command> -h' (or 'auditctl help <command>') for its flags
`

type cli struct {
	stdout, stderr io.Writer
	secrets        *secrets // masked in every error printed
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := cli{stdout, stderr, &secrets{}}
	c.secrets.addDSN(os.Getenv("DATABASE_URL"))
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string) error{
		"keygen": c.keygen, "migrate": c.migrate, "seal": c.seal, "verify": c.verify,
		"export": c.export, "query": c.query, "purge": c.purge,
		"load": c.load, "backup": c.backup, "witness": c.witness, "witness-keygen": c.witnessKeygen,
		"vkey": c.vkey, "proof": c.proof, "verify-proof": c.verifyProof, "consistency": c.consistency,
		"evidence": c.evidence, "verify-evidence": c.verifyEvidence,
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && cmds[args[1]] != nil {
			args = []string{args[1], "-h"}
			break
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	f, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "auditctl: unknown command %q\n\n%s", c.secrets.mask(args[0]), usage)
		return 2
	}
	err := f(ctx, args[1:])
	var pf problemsFound
	var bad proofFailed
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &pf), errors.As(err, &bad):
		return 1
	default:
		fmt.Fprintf(stderr, "auditctl %s: %s\n", args[0], c.secrets.mask(err.Error()))
		return 2
	}
}

// problemsFound is returned by verify when the chain has problems.
type problemsFound uint64

func (p problemsFound) Error() string { return fmt.Sprintf("%d problem(s) found", uint64(p)) }

// dbFlags are the flags of commands that use the database.
type dbFlags struct {
	url, schema, table string
	secrets            *secrets
}

// register adds the flags to fs. The default of --db is read when the
// database is opened, not here: the flag package prints defaults in help.
func (d *dbFlags) register(fs *flag.FlagSet, s *secrets) {
	d.secrets = s
	fs.StringVar(&d.url, "db", "", "PostgreSQL URL, or SQLite file: sqlite:PATH or a path ending .db, .sqlite (default $DATABASE_URL)")
	fs.StringVar(&d.schema, "schema", "public", "schema of the audit tables")
	fs.StringVar(&d.table, "table", "audit_logs", "name of the audit table")
}

func (d *dbFlags) options() *postgres.Options {
	return &postgres.Options{Schema: d.schema, Table: d.table}
}

func (d *dbFlags) open(ctx context.Context) (auditStore, error) { return openStore(ctx, d, false) }

// openSealer reads the key file, opens the database and returns a Sealer
// on it with the key file's current key and signer.
func (d *dbFlags) openSealer(ctx context.Context, c cli, keys string) (auditStore, *chain.Sealer, *chain.SealerOptions, error) {
	kr, err := c.readKeyring(keys)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg := kr.SealerOptions()
	s, err := d.open(ctx)
	if err != nil {
		return nil, nil, cfg, err
	}
	sl, err := chain.NewSealer(s, kr.Current(), cfg)
	if err != nil {
		s.Close(context.Background())
		return nil, nil, cfg, err
	}
	return s, sl, cfg, nil
}

func (c cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("auditctl "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

func (c cli) keygen(_ context.Context, args []string) error {
	fs := c.flags("keygen")
	hmacID := fs.String("hmac-id", "k-"+time.Now().UTC().Format("20060102"), "ID of the new HMAC key")
	signerID := fs.String("signing-key-id", "s-"+time.Now().UTC().Format("20060102"), "ID of the new key that signs checkpoints")
	out := fs.String("o", "-", "write the key file here, created with mode 0600; refuses to overwrite (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "-" {
		return chain.WriteNewKeyFile(c.stdout, *hmacID, *signerID)
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := chain.WriteNewKeyFile(f, *hmacID, *signerID); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "wrote %s (mode 0600); keep it off the database host\n", *out)
	return nil
}

func (c cli) migrate(ctx context.Context, args []string) error {
	fs := c.flags("migrate")
	var db dbFlags
	db.register(fs, c.secrets)
	print := fs.Bool("print", false, "print the SQL instead of applying it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *print {
		if _, ok := sqlitePath(db.url); ok {
			sql, err := sqlite.MigrationSQL()
			if err != nil {
				return err
			}
			_, err = io.WriteString(c.stdout, sql)
			return err
		}
		sql, err := postgres.MigrationSQL(db.options())
		if err != nil {
			return err
		}
		_, err = io.WriteString(c.stdout, sql)
		return err
	}
	created := false
	if path, ok := sqlitePath(db.url); ok {
		_, err := os.Stat(path)
		created = errors.Is(err, os.ErrNotExist)
	}
	s, err := openStore(ctx, &db, true)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	if created {
		path, _ := sqlitePath(db.url)
		fmt.Fprintf(c.stdout, "created %s with the current schema\n", path)
		return nil
	}
	fmt.Fprintln(c.stdout, "schema up to date")
	return nil
}

func keysFlag(fs *flag.FlagSet) *string {
	return fs.String("keys", "", "key file (default $AUDIT_KEYS); see auditctl keygen")
}

// parseSealer parses the flags of the command name, which seals: the
// database's, the key file's, and those more registers; it opens the
// store and a Sealer on it.
func (c cli) parseSealer(ctx context.Context, name string, args []string, more func(*flag.FlagSet)) (auditStore, *chain.Sealer, *chain.SealerOptions, error) {
	fs := c.flags(name)
	var db dbFlags
	db.register(fs, c.secrets)
	keys := keysFlag(fs)
	more(fs)
	if err := fs.Parse(args); err != nil {
		return nil, nil, nil, err
	}
	return db.openSealer(ctx, c, *keys)
}

func (c cli) seal(ctx context.Context, args []string) error {
	var cpOut, treeOut *string
	s, sl, cfg, err := c.parseSealer(ctx, "seal", args, func(fs *flag.FlagSet) {
		cpOut = fs.String("checkpoints", "", "append the new checkpoint to this file (keep it off the database)")
		treeOut = fs.String("tree-checkpoint", "", "write the newest signed checkpoint of the Merkle tree to this file (a C2SP signed note, to keep and publish)")
	})
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	n, err := sl.SealOnce(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "sealed %d record(s)\n", n)
	if err := c.reportLag(ctx, s); err != nil {
		return err
	}
	if *treeOut != "" {
		tc, err := s.TreeCheckpoint(ctx, -1)
		if err != nil {
			return fmt.Errorf("tree checkpoint: %w", err)
		}
		if err := os.WriteFile(*treeOut, tc.Note, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "tree checkpoint of %d records written to %s\n", tc.Size, *treeOut)
	}
	if cfg.SigningKey == nil {
		return nil
	}
	if n == 0 {
		current, err := checkpointCurrent(ctx, s, cfg.SigningKey)
		if err != nil {
			return err
		}
		if current {
			// Nothing new to vouch for, and a run every minute would
			// add a checkpoint a minute.
			fmt.Fprintln(c.stdout, "no new seal since the newest checkpoint: none written")
			return nil
		}
	}
	cp, err := sl.Checkpoint(ctx, time.Time{})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "checkpoint at seal %d signed by %s\n", cp.Seq, cp.SignerID)
	if *cpOut != "" {
		f, err := os.OpenFile(*cpOut, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		if err := chain.WriteCheckpoint(f, cp); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}

// checkpointCurrent reports whether a checkpoint signed by signer names the
// newest seal of s, so that another would say nothing new.
func checkpointCurrent(ctx context.Context, s storekit.SealStore, signer *chain.SigningKey) (bool, error) {
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		return false, err
	}
	keys := map[string]ed25519.PublicKey{signer.ID: signer.Key.Public().(ed25519.PublicKey)}
	for i := len(cps) - 1; i >= 0; i-- {
		cp := cps[i]
		if chain.VerifyCheckpoint(&cp, keys) != nil {
			continue
		}
		newer := false
		err := s.ScanChain(ctx, cp.Seq+1, func(storekit.Seal, *audit.Record) error {
			newer = true
			return errStopScan
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return false, err
		}
		return !newer, nil
	}
	return false, nil
}

// errStopScan ends a ScanChain early.
var errStopScan = errors.New("stop")

// reportLag says when committed records wait behind a transaction still
// open somewhere on the PostgreSQL cluster: the sealer cannot take them
// before it ends.
// reportLag says why records wait for their seal, on PostgreSQL, where a
// transaction open anywhere on the cluster holds sealing back.
func (c cli) reportLag(ctx context.Context, st auditStore) error {
	s, ok := st.(*postgres.Store)
	if !ok {
		return nil
	}
	lag, err := s.SealLag(ctx)
	if err != nil || lag.Waiting == 0 {
		return err
	}
	fmt.Fprintf(c.stdout, "%d record(s) wait behind an open transaction", lag.Waiting)
	switch b := lag.Blocker; {
	case b == nil:
		fmt.Fprintf(c.stdout, " (xid %s)", lag.Horizon)
	case b.Age > 0:
		fmt.Fprintf(c.stdout, " (pid %d, database %s, open for %v)", b.PID, b.Database, b.Age)
	default:
		fmt.Fprintf(c.stdout, " (pid %d; its age is not visible to this role)", b.PID)
	}
	fmt.Fprintln(c.stdout, ": they are sealed once it ends (any database of the cluster counts)")
	return nil
}

func (c cli) verify(ctx context.Context, args []string) error {
	fs := c.flags("verify")
	var db dbFlags
	db.register(fs, c.secrets)
	keys := keysFlag(fs)
	export := fs.String("export", "", "verify this export (auditctl export) instead of the database")
	cpFile := fs.String("checkpoints", "", "checkpoints kept off the database (auditctl seal --checkpoints): detects removal of the newest records")
	window := fs.Duration("window", 5*time.Minute, "how long a record may stay unsealed")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	kr, err := c.readKeyring(*keys)
	if err != nil {
		return err
	}
	opts := kr.VerifyOptions()
	opts.SealWindow = *window
	if *cpFile != "" {
		f, err := os.Open(*cpFile)
		if err != nil {
			return err
		}
		opts.Trusted, err = chain.ReadCheckpoints(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	start := time.Now()
	if !*quiet {
		opts.Progress = func(r chain.Report) {
			el := time.Since(start).Seconds()
			fmt.Fprintf(c.stderr, "\rverified %d seals, %d problem(s), %.0f seals/s ", r.Seals, r.ProblemCount, float64(r.Seals)/max(el, 1e-9))
		}
	}
	var src storekit.ChainSource
	if *export != "" {
		if _, err := os.Stat(*export); err != nil {
			return err
		}
		src = chain.NewExportSource(func() (io.ReadCloser, error) { return os.Open(*export) })
	} else {
		s, err := db.open(ctx)
		if err != nil {
			return err
		}
		defer s.Close(context.Background())
		src = s
	}
	rep, err := chain.Verify(ctx, src, opts)
	if !*quiet {
		fmt.Fprintln(c.stderr)
	}
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(c.stdout, &rep, time.Since(start))
	}
	if !rep.OK() {
		return problemsFound(rep.ProblemCount)
	}
	return nil
}

func printReport(w io.Writer, r *chain.Report, took time.Duration) {
	status := "OK"
	if !r.OK() {
		status = "FAILED"
	}
	fmt.Fprintf(w, "verification %s in %v\n", status, took.Round(time.Millisecond))
	fmt.Fprintf(w, "  seals %d..%d: %d checked, %d records verified, %d removed by retention\n", r.FirstSeq, r.LastSeq, r.Seals, r.Records, r.Purged)
	fmt.Fprintf(w, "  checkpoints matched: %d; unsealed records within the window: %d\n", r.Checkpoints, r.Unsealed)
	if r.TenantID != "" {
		fmt.Fprintf(w, "  export of tenant %q only: %d position(s) of other tenants redacted, their links checked, not their records\n", r.TenantID, r.Redacted)
	}
	if r.OK() {
		return
	}
	counts := map[chain.ProblemKind]int{}
	for _, p := range r.Problems {
		counts[p.Kind]++
	}
	fmt.Fprintf(w, "  %d problem(s):", r.ProblemCount)
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(w, " %s=%d", k, counts[k])
	}
	fmt.Fprintln(w)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
	if uint64(len(r.Problems)) < r.ProblemCount {
		fmt.Fprintf(w, "  … and %d more\n", r.ProblemCount-uint64(len(r.Problems)))
	}
}

func (c cli) export(ctx context.Context, args []string) error {
	fs := c.flags("export")
	var db dbFlags
	db.register(fs, c.secrets)
	out := fs.String("o", "-", "output file, created with mode 0600 (- for stdout)")
	format := fs.String("format", "chain", "chain: seals and records, for auditctl verify --export; ocsf: the records as OCSF events (NDJSON), newest first")
	tenant := fs.String("tenant-id", "", "export the records of this tenant only: with --format chain, the other positions of the chain as redacted seals (still verifiable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *format != "chain" && *format != "ocsf" {
		return fmt.Errorf("--format: want chain or ocsf, got %q", *format)
	}
	s, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	w, err := c.createOutput(*out) // 0600: an export holds every record, details included
	if err != nil {
		return err
	}
	var st chain.ExportStats
	if *format == "ocsf" {
		enc := ocsf.NewEncoder(w, nil)
		err = eachRecord(ctx, s, audit.Filter{TenantID: *tenant}, 0, func(r *audit.Record) error {
			st.Records++
			return enc.Encode(r)
		})
	} else if *tenant != "" {
		st, err = chain.ExportTenantChain(ctx, s, *tenant, w)
	} else {
		st, err = chain.ExportChain(ctx, s, w)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if *format == "ocsf" {
		fmt.Fprintf(c.stderr, "exported %d records as OCSF events\n", st.Records)
		return nil
	}
	fmt.Fprintf(c.stderr, "exported %d seals (%d with records) and %d unsealed records\n", st.Seals, st.Records, st.Unsealed)
	if *tenant != "" {
		fmt.Fprintf(c.stderr, "%d seal(s) of other tenants redacted\n", st.Redacted)
	}
	return nil
}

func (c cli) query(ctx context.Context, args []string) error {
	fs := c.flags("query")
	var db dbFlags
	db.register(fs, c.secrets)
	var f audit.Filter
	fs.StringVar(&f.UserID, "user-id", "", "user id")
	action := fs.String("action", "", `action; a value ending in "." (user.) is a prefix`)
	fs.StringVar(&f.ResourceType, "resource-type", "", "resource type")
	fs.StringVar(&f.ResourceID, "resource-id", "", "resource id")
	status := fs.String("status", "", "success, failure or error")
	fs.StringVar(&f.RequestID, "request-id", "", "request id")
	fs.StringVar(&f.TenantID, "tenant-id", "", "tenant id")
	fs.StringVar(&f.TraceID, "trace-id", "", "W3C trace id")
	since := fs.String("since", "", "RFC 3339 time, inclusive")
	until := fs.String("until", "", "RFC 3339 time, exclusive")
	limit := fs.Int("limit", 100, "most records to print (0: all)")
	format := fs.String("format", "json", "json: the records as stored; ocsf: as OCSF events")
	if err := fs.Parse(args); err != nil {
		return err
	}
	w := safetext.NewJSONWriter(c.stdout) // no raw C1 or bidi controls on a terminal
	var encode func(*audit.Record) error
	switch *format {
	case "json":
		enc := json.NewEncoder(w)
		encode = func(r *audit.Record) error { return enc.Encode(r) }
	case "ocsf":
		encode = ocsf.NewEncoder(w, nil).Encode
	default:
		return fmt.Errorf("--format: want json or ocsf, got %q", *format)
	}
	if strings.HasSuffix(*action, ".") {
		f.ActionPrefix = *action
	} else {
		f.Action = audit.Action(*action)
	}
	f.Status = audit.Status(*status)
	var err error
	if f.Since, f.Until, err = parseTimes(*since, *until); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	s, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	return eachRecord(ctx, s, f, *limit, encode)
}

// eachRecord calls fn with the records f selects, newest first, page by
// page: at most limit of them, or all when limit is 0.
func eachRecord(ctx context.Context, s audit.Querier, f audit.Filter, limit int, fn func(*audit.Record) error) error {
	n := 0
	f.Limit = audit.MaxLimit
	for {
		p, err := s.Query(ctx, f)
		if err != nil {
			return err
		}
		for i := range p.Records {
			if limit > 0 && n >= limit {
				return nil
			}
			if err := fn(&p.Records[i]); err != nil {
				return err
			}
			n++
		}
		if p.NextCursor == "" {
			return nil
		}
		f.Cursor = p.NextCursor
	}
}

// tenantAges is the repeatable flag --tenant-max-age tenant=duration. The
// tenant is everything before the last '=' (a duration holds none), so
// that a tenant id holding '=' needs no quoting: org=eu=8760h is tenant
// "org=eu". An id that is not an identity (audit.CheckID) is refused.
type tenantAges map[string]time.Duration

func (t tenantAges) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(t)) {
		parts = append(parts, k+"="+t[k].String())
	}
	return strings.Join(parts, ",")
}

func (t tenantAges) Set(v string) error {
	eq := strings.LastIndexByte(v, '=')
	if eq <= 0 {
		return fmt.Errorf("want tenant=duration (org-1=720h), not %q", v)
	}
	tenant, age := v[:eq], v[eq+1:]
	if err := audit.CheckID(tenant); err != nil {
		return fmt.Errorf("the tenant: %w", err)
	}
	d, err := time.ParseDuration(age)
	if err != nil || d <= 0 {
		return fmt.Errorf("tenant %q: want a positive duration (720h), not %q", tenant, age)
	}
	if _, dup := t[tenant]; dup {
		return fmt.Errorf("tenant %q given twice", tenant)
	}
	t[tenant] = d
	return nil
}

func (c cli) purge(ctx context.Context, args []string) error {
	var maxAge *time.Duration
	tenants := tenantAges{}
	s, sl, _, err := c.parseSealer(ctx, "purge", args, func(fs *flag.FlagSet) {
		maxAge = fs.Duration("max-age", audit.DefaultMaxAge, "remove records older than this (PCI DSS: 8784h, audit.PCIMaxAge)")
		fs.Var(tenants, "tenant-max-age", "`tenant=duration`: the records of this tenant are kept this long instead (repeat for more tenants; the tenant is what comes before the last =)")
	})
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	logger, err := audit.New(s, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		return err
	}
	r, err := audit.NewRetention(s, sl, &audit.RetentionOptions{MaxAge: *maxAge, TenantMaxAge: tenants, Logger: logger})
	if err != nil {
		logger.Close(ctx)
		return err
	}
	res, err := r.RunOnce(ctx)
	if cerr := logger.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "removed %d record(s) older than %s", res.Purged, res.Cutoff.Format(time.RFC3339))
	if n := len(res.TenantCutoffs); n > 0 {
		fmt.Fprintf(c.stdout, " (%d tenant(s) by their own retention)", n)
	}
	fmt.Fprintf(c.stdout, "; chain checkpoint at seal %d, %d seal(s) removed\n", res.Boundary, res.SealsPurged)
	return nil
}
