package loader

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/config"
)

// The test binary plays pier's hidden evaluation command: run with one of
// these as its first argument, it is a Sandbox's child.
const (
	childServe = "serve-evaluations"
	childCrash = "crash-evaluations"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case childServe:
			if err := ServeEvaluations(os.Stdin, os.Stdout); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		case childCrash:
			panic("the evaluator broke")
		}
	}
	os.Exit(m.Run())
}

func testSandbox(t *testing.T, mode string, timeout time.Duration, memory int64) *Sandbox {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skip("cannot re-run the test binary:", err)
	}
	return &Sandbox{Command: func() *exec.Cmd { return exec.Command(exe, mode) }, Timeout: timeout, Memory: memory}
}

func sandboxed(t *testing.T, sb *Sandbox) *Loader {
	t.Helper()
	l, err := NewWith(Options{Workers: 2, Sandbox: sb})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// slowCUE is issue 11's reproduction: nine million products, which CUE
// took more than 400 s and 1.6 GB to evaluate, never returning.
const slowCUE = `package catalog
import "list"
_n: [for i in list.Range(0,3000,1) for j in list.Range(0,3000,1) {i*j}]
blueprints: service: {title: "S \(len(_n))", schema: properties: {}}
`

// greedyCUE allocates about 400 MB a second.
const greedyCUE = `package catalog
import "list"
_n: [for i in list.Range(0,20000000,1) {a: i, b: "x"}]
blueprints: service: {title: "S \(len(_n))", schema: properties: {}}
`

// A file over its time or memory budget fails within the bound, with a
// diagnostic naming it; the other files of the revision are loaded, and
// the next evaluation gets a fresh child.
func TestSandboxBoundsEvaluation(t *testing.T) {
	good := `package catalog
_t: "Team"
blueprints: team: {title: _t, schema: properties: {}}
entities: team: ops: title: _t
`
	tests := []struct {
		name    string
		file    string
		timeout time.Duration
		memory  int64
		want    string
		within  time.Duration
	}{
		{"time", slowCUE, time.Second, 0, "evaluation exceeded 1s (option eval-timeout)", 3 * time.Second},
		{"memory", greedyCUE, time.Minute, 120 << 20, "evaluation exceeded 120 MB of memory (option eval-memory)", 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := sandboxed(t, testSandbox(t, childServe, tt.timeout, tt.memory))
			fsys := mapFS(map[string]string{"slow.cue": tt.file, "team.cue": good, "team2.json": `{"entities": {"team": {"dev": {}}}}`})
			start := time.Now()
			res, err := l.Load(context.Background(), fsys)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if took > tt.within {
				t.Errorf("the load took %s, more than %s", took, tt.within)
			}
			if len(res.Diagnostics) != 1 {
				t.Fatalf("diagnostics: %v", res.Diagnostics)
			}
			d := res.Diagnostics[0]
			if d.Pos.File != "slow.cue" || d.Kind != catalog.KindLimit || !strings.Contains(d.Message, tt.want) {
				t.Errorf("diagnostic %s [%s], want slow.cue: ...%s", d, d.Kind, tt.want)
			}
			if res.Catalog.Entities["team"]["ops"] == nil || res.Catalog.Entities["team"]["dev"] == nil {
				t.Errorf("the revision's other files were not loaded: %v", res.Catalog.Entities)
			}

			// The verdict is cached with the file: an unchanged file is
			// not evaluated again, and a fixed one is, by a new child.
			start = time.Now()
			res, err = l.Load(context.Background(), fsys)
			if err != nil || len(res.Diagnostics) != 1 || res.Evaluated != 0 || time.Since(start) > time.Second {
				t.Fatalf("unchanged reload: %v, %v, %d evaluated, %s", err, res.Diagnostics, res.Evaluated, time.Since(start))
			}
			fsys["slow.cue"] = &fstest.MapFile{Data: []byte("package catalog\n_n: 3\nblueprints: service: {title: \"S \\(_n)\", schema: properties: {}}\n")}
			res, err = l.Reload(context.Background(), fsys, []string{"slow.cue"})
			if err != nil || !res.OK() || res.Catalog.Blueprints["service"].Title != "S 3" {
				t.Fatalf("after the fix: %v, %v", err, res.Diagnostics)
			}
		})
	}
}

// Cancelling a load stops the evaluation in flight at once.
func TestSandboxStopsWithTheLoad(t *testing.T) {
	l := sandboxed(t, testSandbox(t, childServe, time.Minute, 0))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := l.Load(ctx, mapFS(map[string]string{"slow.cue": slowCUE}))
	if err != context.Canceled {
		t.Fatalf("load of a cancelled context: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the load returned %s after it started, 300 ms after it was cancelled", took)
	}
}

// A child that dies without answering fails its file, saying how.
func TestSandboxReportsACrash(t *testing.T) {
	l := sandboxed(t, testSandbox(t, childCrash, time.Minute, 0))
	res, err := l.Load(context.Background(), mapFS(map[string]string{"a.cue": "_t: 1\nentities: team: ops: title: \"\\(_t)\"\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Diagnostics) != 1 || !strings.Contains(res.Diagnostics[0].String(), "a.cue: the CUE evaluator stopped while evaluating this file (exit status 2): panic: the evaluator broke") {
		t.Fatalf("diagnostics: %v", res.Diagnostics)
	}
}

// Evaluating in a child is evaluating: the same catalog and diagnostics,
// positions included, as in process, for files that import packages of
// the catalog's module, of cue.mod/pkg and pier's schema, and for
// evaluation errors.
func TestSandboxAgreesWithInProcess(t *testing.T) {
	files := map[string]string{
		"cue.mod/module.cue":                        "module: \"example.com/catalog\"\nlanguage: version: \"v0.17.0\"\n",
		"cue.mod/pkg/example.org/shared/shared.cue": "package shared\n\n#Owner: \"payments\"\n",
		"blueprints.cue":                            serviceBlueprint,
		"teams.json":                                teams,
		"lib/defaults/defaults.cue": `package defaults

import "example.org/shared"

#Service: {
	properties: {lifecycle: *"Production" | string, ...}
	relations: team: *shared.#Owner | string
}
`,
		"services/api.cue": `package catalog

import "example.com/catalog/lib/defaults"

entities: service: api: defaults.#Service & {properties: language: "Go"}
`,
		"services/schema.cue": `package catalog

import "github.com/pierhq/pier/schema"

entities: service: web: schema.#Entity & {properties: {language: "Go", lifecycle: "Staging"}, relations: team: "identity"}
`,
		"services/conflict.cue":   "_l: \"Go\"\nentities: service: bad: {properties: {language: _l & \"Rust\", lifecycle: \"Staging\"}, relations: team: \"identity\"}\n",
		"services/incomplete.cue": "entities: service: half: {properties: {language: string, lifecycle: \"Staging\"}, relations: team: \"identity\"}\n",
		"services/missing.cue":    "package catalog\n\nimport \"example.com/catalog/lib/nothing\"\n\nentities: service: x: nothing.#X\n",
	}
	sources := map[string]fs.FS{"test catalog": mapFS(files), "catalog-example": os.DirFS("../../catalog-example")}
	for name, fsys := range sources {
		t.Run(name, func(t *testing.T) {
			inProc, err := New(2)
			if err != nil {
				t.Fatal(err)
			}
			want, err := inProc.Load(context.Background(), fsys)
			if err != nil {
				t.Fatal(err)
			}
			got, err := sandboxed(t, testSandbox(t, childServe, time.Minute, 0)).Load(context.Background(), fsys)
			if err != nil {
				t.Fatal(err)
			}
			if got.Evaluated != want.Evaluated || !reflect.DeepEqual(got.Diagnostics, want.Diagnostics) || !reflect.DeepEqual(got.Objects, want.Objects) {
				t.Fatalf("in a child: %d evaluated, %v\nin process: %d evaluated, %v", got.Evaluated, got.Diagnostics, want.Evaluated, want.Diagnostics)
			}
			if name == "test catalog" && len(want.Diagnostics) != 3 {
				t.Errorf("the test catalog should have its three errors: %v", want.Diagnostics)
			}
		})
	}
}

// A load starts one child for files evaluated one at a time, and another
// only when files wait for it.
func TestPoolGrowsWhenFilesWait(t *testing.T) {
	busy := "package catalog\nimport \"list\"\n_n: [for i in list.Range(0,3000,1) {i}]\nentities: team: x: title: \"\\(len(_n))\"\n"
	quick := "_t: 1\nentities: team: x: title: \"\\(_t)\"\n"
	for _, tt := range []struct {
		name  string
		src   string
		conc  int
		files int
		want  int
	}{
		{"one at a time", busy, 1, 6, 1},
		{"quick files, two workers", quick, 2, 20, 1},
		{"busy files, two workers", busy, 2, 10, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testSandbox(t, childServe, time.Minute, 0).pool(2, config.DefaultMaxFileSize)
			defer p.close()
			errs := make(chan error, tt.files)
			next := make(chan int)
			for range tt.conc {
				go func() {
					for i := range next {
						name := fmt.Sprintf("f%d.cue", i)
						f, _ := parse(name, []byte(tt.src))
						_, diags, err := p.evaluate(context.Background(), mapFS(nil), "", f, []byte(tt.src))
						if err == nil && len(diags) > 0 {
							err = diags
						}
						errs <- err
					}
				}()
			}
			for i := range tt.files {
				next <- i
			}
			close(next)
			for range tt.files {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if p.children != tt.want {
				t.Errorf("%d children, want %d", p.children, tt.want)
			}
		})
	}
}
