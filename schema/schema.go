// Package schema ships pier's CUE schemas for Port's shapes and the Go code
// that compiles them.
//
// The .cue files here are the source of truth for the shape of every
// catalog object. They are embedded in the binary, served to CUE imports
// of ImportPath (so a catalog file may write `schema.#Catalog & {...}`),
// and can be vendored into a catalog repository's cue.mod/pkg so that the
// plain `cue vet` reports the same shape errors as pier.
package schema

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"
	"github.com/pierhq/pier/internal/catalog"
)

//go:embed *.cue
var files embed.FS

// ImportPath is the CUE import path of the schema package.
const ImportPath = "github.com/pierhq/pier/schema"

// VendorDir is where the schema package lives inside a catalog module.
const VendorDir = "cue.mod/pkg/" + ImportPath

// Files returns the schema's CUE sources by file name, for vendoring.
func Files() (map[string][]byte, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := fs.ReadFile(files, e.Name())
		if err != nil {
			return nil, err
		}
		out[e.Name()] = b
	}
	return out, nil
}

// Schemas is the compiled schema package. It is immutable and safe for
// concurrent use (cue.Value is, from CUE v0.17).
type Schemas struct {
	defs map[string]cue.Value
}

// Definitions checked by Check, by the name of the catalog key whose
// values they describe.
const (
	Blueprint  = "#Blueprint"
	Entity     = "#Entity"
	Action     = "#Action"
	Scorecard  = "#Scorecard"
	Automation = "#Automation"
	Webhook    = "#Webhook"
	// ApprovalSystem is checked under approvalSystems.
	ApprovalSystem = "#ApprovalSystem"
	Settings       = "#Settings"
	// Role and RoleBinding are checked under roles and roleBindings.
	Role        = "#Role"
	RoleBinding = "#RoleBinding"
	// Dashboard is checked under dashboards.
	Dashboard = "#Dashboard"
	Relation  = "#Relation"
	Catalog   = "#Catalog"
)

// Compile builds the embedded schema package.
func Compile() (*Schemas, error) {
	inst := Instance(build.NewContext())
	if err := inst.Complete(); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	v := cuecontext.New().BuildInstance(inst)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("schema: build: %w", err)
	}
	s := &Schemas{defs: map[string]cue.Value{}}
	for _, name := range []string{Blueprint, Entity, Action, Scorecard, Automation, Webhook, ApprovalSystem, Settings, Catalog, Relation, Role, RoleBinding, Dashboard} {
		d := v.LookupPath(cue.ParsePath(name))
		if !d.Exists() {
			return nil, fmt.Errorf("schema: %s is missing", name)
		}
		s.defs[name] = d
	}
	return s, nil
}

// Instance returns the schema package as a build instance of bctx, for
// loaders that resolve `import "github.com/pierhq/pier/schema"` themselves.
// File names are VendorDir-relative so that errors point where a vendored
// copy would be.
func Instance(bctx *build.Context) *build.Instance {
	inst := bctx.NewInstance(VendorDir, nil)
	inst.ImportPath = ImportPath
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		inst.Err = errors.Promote(err, "read embedded schema")
		return inst
	}
	for _, e := range entries {
		src, err := fs.ReadFile(files, e.Name())
		if err == nil {
			err = inst.AddFile(VendorDir+"/"+e.Name(), src)
		}
		if err != nil {
			inst.Err = errors.Append(inst.Err, errors.Promote(err, "parse embedded schema"))
		}
	}
	return inst
}

// Violation is one shape error, relative to the checked value.
type Violation struct {
	Path    []string
	Message string
}

// Check validates a JSON document against one of the definitions and
// returns every violation, grouped so that each path gets one readable
// message. A fresh context per call keeps memory flat: a long-lived CUE
// context keeps everything it ever evaluated.
func (s *Schemas) Check(def string, data []byte) ([]Violation, error) {
	d, ok := s.defs[def]
	if !ok {
		return nil, fmt.Errorf("schema: unknown definition %s", def)
	}
	v := cuecontext.New().CompileBytes(data)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("schema: compile value: %w", err)
	}
	u := d.Unify(v)
	err := u.Validate(cue.Concrete(true))
	if err == nil {
		return nil, nil
	}
	return violations(d, v, err), nil
}

// violations groups CUE's errors by path and phrases each group once.
// CUE reports an enum mismatch as one "conflicting values" error per
// alternative plus an "empty disjunction" summary; an author wants "must
// be one of a, b, c".
func violations(def, data cue.Value, err error) []Violation {
	type group struct {
		path      []string
		expected  []string
		messages  []string
		notAllow  bool
		required  bool
		firstSeen int
	}
	groups := map[string]*group{}
	for i, e := range errors.Errors(err) {
		p := e.Path()
		if len(p) > 0 && strings.HasPrefix(p[0], "#") {
			p = p[1:]
		}
		key := strings.Join(p, "\x00")
		g := groups[key]
		if g == nil {
			g = &group{path: p, firstSeen: i}
			groups[key] = g
		}
		format, args := e.Msg()
		got := value(data, p)
		switch {
		case strings.HasPrefix(format, "conflicting values %s and %s"):
			for _, a := range args[:2] {
				if s := fmt.Sprint(a); s != got {
					g.expected = append(g.expected, catalog.Excerpt(s))
				}
			}
		case strings.HasPrefix(format, "mismatched types %s and %s"):
			d := catalog.Excerpt(got)
			g.messages = append(g.messages, fmt.Sprintf("must be %s; got %s", typeWord(args, d), d))
		case strings.Contains(format, "field not allowed"):
			g.notAllow = true
		case strings.Contains(format, "empty disjunction"):
			// summarised by the alternatives
		case strings.Contains(format, "incomplete value") || strings.Contains(format, "required but not present"):
			g.required = true
		default:
			g.messages = append(g.messages, fmt.Sprintf(format, catalog.ExcerptArgs(args)...))
		}
	}
	out := make([]Violation, 0, len(groups))
	for _, g := range groups {
		name := ""
		if len(g.path) > 0 {
			name = g.path[len(g.path)-1]
		}
		var msg string
		switch {
		case g.notAllow:
			msg = fmt.Sprintf("field %q is not allowed here", name)
		case g.required:
			msg = fmt.Sprintf("missing required field %q", name)
		case len(g.expected) == 1 || len(expected(g.expected)) == 1:
			msg = fmt.Sprintf("must be %s; got %s", expected(g.expected)[0], describe(data, g.path))
		case len(g.expected) > 0:
			msg = fmt.Sprintf("must be one of %s; got %s", strings.Join(expected(g.expected), ", "), describe(data, g.path))
		case len(g.messages) > 0:
			msg = uniq(g.messages)[0]
		default:
			// A failed disjunction of structs: its branches' errors
			// are reported at deeper paths, which say more.
			if hasDeeper(groups, g.path) {
				continue
			}
			msg = "invalid value"
		}
		out = append(out, Violation{Path: g.path, Message: msg})
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.Join(out[i].Path, ".") < strings.Join(out[j].Path, ".")
	})
	return out
}

// describe is the value at p as an error message quotes it.
func describe(data cue.Value, p []string) string {
	return catalog.Excerpt(value(data, p))
}

// value is the value at p in JSON, or "nothing".
func value(data cue.Value, p []string) string {
	sels := make([]cue.Selector, len(p))
	for i, s := range p {
		sels[i] = cue.Str(s)
		if n, err := fmt.Sscanf(s, "%d", new(int)); err == nil && n == 1 {
			var idx int
			fmt.Sscanf(s, "%d", &idx)
			sels[i] = cue.Index(idx)
		}
	}
	v := data.LookupPath(cue.MakePath(sels...))
	if !v.Exists() {
		return "nothing"
	}
	b, err := v.MarshalJSON()
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// expected drops the literals that a listed type already covers, so that
// `bool | *false` reads "bool" rather than "bool, false".
func expected(alts []string) []string {
	alts = uniq(alts)
	hasBool := false
	for _, a := range alts {
		hasBool = hasBool || a == "bool"
	}
	out := alts[:0]
	for _, a := range alts {
		if hasBool && (a == "true" || a == "false") {
			continue
		}
		out = append(out, a)
	}
	return out
}

func hasDeeper[G any](groups map[string]G, p []string) bool {
	prefix := strings.Join(p, "\x00") + "\x00"
	for k := range groups {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func typeWord(args []any, got string) string {
	for _, a := range args[:2] {
		s := fmt.Sprint(a)
		if !strings.Contains(got, s) {
			return s
		}
	}
	return fmt.Sprint(args[0])
}

func uniq(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
