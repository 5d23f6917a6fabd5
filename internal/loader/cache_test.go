package loader

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A file that imports a shared package must be re-evaluated when the
// package changes, even though the file itself did not.
func TestCacheFollowsImportedPackages(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"cue.mod/module.cue": "module: \"example.com/catalog\"\nlanguage: version: \"v0.17.0\"\n",
		"blueprints.cue":     serviceBlueprint,
		"teams.json":         teams,
		"lib/defaults/defaults.cue": `package defaults

#Service: {
	properties: {lifecycle: *"Production" | string, ...}
	relations: team: *"payments" | string
}
`,
		"services/api.cue": `package catalog

import "example.com/catalog/lib/defaults"

entities: service: api: defaults.#Service & {properties: language: "Go"}
`,
		"services/plain.json": `{"entities": {"service": {"plain": {"properties": {"language": "Go", "lifecycle": "Staging"}, "relations": {"team": "identity"}}}}}`,
	})
	fsys := os.DirFS(dir)
	l, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Load(ctx, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("first load: %v", res.Diagnostics)
	}
	if got := res.Catalog.Entities["service"]["api"].Properties["lifecycle"]; got != "Production" {
		t.Fatalf("default from the imported package not applied: lifecycle = %v", got)
	}
	if res.Evaluated != 5 {
		t.Errorf("first load evaluated %d files, want 5", res.Evaluated)
	}

	// Nothing changed: nothing is evaluated again.
	res, err = l.Load(ctx, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if res.Evaluated != 0 {
		t.Errorf("unchanged reload evaluated %d files", res.Evaluated)
	}

	// Change only the shared package: its default becomes invalid.
	writeFiles(t, dir, map[string]string{"lib/defaults/defaults.cue": `package defaults

#Service: {
	properties: {lifecycle: *"Prod" | string, ...}
	relations: team: *"payments" | string
}
`})
	for _, reload := range []bool{false, true} {
		var res *Result
		if reload {
			res, err = l.Reload(ctx, fsys, []string{"lib/defaults/defaults.cue"})
		} else {
			res, err = l.Load(ctx, fsys)
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Diagnostics) != 1 || res.Diagnostics[0].Path != "entities.service.api.properties.lifecycle" {
			t.Fatalf("reload=%v: after the shared change got %v", reload, res.Diagnostics)
		}
		if d := res.Diagnostics[0]; d.Pos.File != "lib/defaults/defaults.cue" || d.Pos.Line != 4 {
			t.Errorf("reload=%v: error points at %s, want the default in lib/defaults/defaults.cue:4", reload, d.Pos)
		}
	}
}

// A file depends on the packages its imports import, too: changing one
// two imports away (in the catalog's module, or in cue.mod/pkg)
// evaluates the file again.
func TestCacheFollowsTransitiveImports(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"cue.mod/module.cue":                        "module: \"example.com/catalog\"\nlanguage: version: \"v0.17.0\"\n",
		"cue.mod/pkg/example.org/shared/shared.cue": "package shared\n\n#Owner: \"payments\"\n",
		"blueprints.cue":                            serviceBlueprint,
		"teams.json":                                teams,
		"lib/base/base.cue":                         "package base\n\n#Lifecycle: \"Production\"\n",
		"lib/defaults/defaults.cue": `package defaults

import (
	"example.com/catalog/lib/base"
	"example.org/shared"
)

#Service: {
	properties: {lifecycle: *base.#Lifecycle | string, ...}
	relations: team: *shared.#Owner | string
}
`,
		"services/api.cue": `package catalog

import "example.com/catalog/lib/defaults"

entities: service: api: defaults.#Service & {properties: language: "Go"}
`,
	})
	fsys := os.DirFS(dir)
	l, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := l.Load(ctx, fsys); err != nil || !res.OK() {
		t.Fatalf("first load: %v %v", err, res.Diagnostics)
	}
	api := func(res *Result) *catalog.Entity { return res.Catalog.Entities["service"]["api"] }

	writeFiles(t, dir, map[string]string{"lib/base/base.cue": "package base\n\n#Lifecycle: \"Staging\"\n"})
	res, err := l.Reload(ctx, fsys, []string{"lib/base/base.cue"})
	if err != nil || !res.OK() || api(res).Properties["lifecycle"] != "Staging" {
		t.Fatalf("after changing lib/base: %v %v, api %+v", err, res.Diagnostics, api(res))
	}
	writeFiles(t, dir, map[string]string{"cue.mod/pkg/example.org/shared/shared.cue": "package shared\n\n#Owner: \"identity\"\n"})
	res, err = l.Reload(ctx, fsys, []string{"cue.mod/pkg/example.org/shared/shared.cue"})
	if err != nil || !res.OK() || api(res).Relations["team"] != "identity" {
		t.Fatalf("after changing cue.mod/pkg: %v %v, api %+v", err, res.Diagnostics, api(res))
	}
}

// Reload with the changed paths must give exactly what a cold load of the
// same tree gives, whatever the sequence of edits.
func TestReloadAgreesWithColdLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	files := map[string]string{"blueprints.cue": serviceBlueprint, "teams.json": teams}
	for i := 0; i < 20; i++ {
		files[fmt.Sprintf("svc/s%02d.json", i)] = service(i, "Production", "payments")
	}
	writeFiles(t, dir, files)
	warm, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := warm.Load(ctx, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lifecycles := []string{"Production", "Staging", "Prod"} // Prod is invalid
	for step := 0; step < 40; step++ {
		i := rng.IntN(25)
		name := fmt.Sprintf("svc/s%02d.json", i)
		switch rng.IntN(4) {
		case 0:
			os.Remove(filepath.Join(dir, name))
		case 1:
			writeFiles(t, dir, map[string]string{name: service(i, "Production", "nobody")})
		default:
			writeFiles(t, dir, map[string]string{name: service(i, lifecycles[rng.IntN(3)], "payments")})
		}
		got, err := warm.Reload(ctx, os.DirFS(dir), []string{name})
		if err != nil {
			t.Fatal(err)
		}
		cold, err := New(1)
		if err != nil {
			t.Fatal(err)
		}
		want, err := cold.Load(ctx, os.DirFS(dir))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Diagnostics, want.Diagnostics) {
			t.Fatalf("step %d: reload diagnostics\n%v\ncold\n%v", step, got.Diagnostics, want.Diagnostics)
		}
		if !reflect.DeepEqual(got.Objects, want.Objects) {
			t.Fatalf("step %d: reload objects differ from a cold load", step)
		}
		if got.Evaluated > 1 {
			t.Fatalf("step %d: reload evaluated %d files for a one-file change", step, got.Evaluated)
		}
	}
}

func service(i int, lifecycle, team string) string {
	return fmt.Sprintf(`{"entities": {"service": {"s%02d": {"title": "S%d", "properties": {"language": "Go", "lifecycle": %q}, "relations": {"team": %q}}}}}`, i, i, lifecycle, team)
}
