package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
)

// A catalog author who vendors the schema gets pier's shape errors from
// CUE's standard loader — what `cue vet` runs — without pier.
func TestVendoredSchemaWorksWithTheCUELoader(t *testing.T) {
	dir := t.TempDir()
	if code, out, errOut := runCLI(t, "schema", "vendor", dir); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	write := func(name, data string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cue.mod/module.cue", "module: \"example.com/catalog\"\nlanguage: version: \"v0.17.0\"\n")
	write("good/bp.cue", `package catalog

import "github.com/pierhq/pier/schema"

schema.#Catalog & {
	blueprints: team: {title: "Team", schema: properties: size: {type: "number"}}
}
`)
	write("bad/bp.cue", `package catalog

import "github.com/pierhq/pier/schema"

schema.#Catalog & {
	blueprints: team: {title: "Team", schema: properties: size: {type: "numbr"}}
}
`)
	write("unknown/bp.cue", `package catalog

import "github.com/pierhq/pier/schema"

schema.#Catalog & {
	blueprint: x: {}
}
`)
	vet := func(pkg string) error {
		insts := load.Instances([]string{"./" + pkg}, &load.Config{Dir: dir})
		if insts[0].Err != nil {
			return insts[0].Err
		}
		v := cuecontext.New().BuildInstance(insts[0])
		if v.Err() != nil {
			return v.Err()
		}
		return v.Validate(cue.Concrete(true))
	}
	if err := vet("good"); err != nil {
		t.Fatalf("valid file rejected: %v", err)
	}
	for pkg, want := range map[string]string{
		"bad":     "blueprints.team.schema.properties.size.type",
		"unknown": "blueprint: field not allowed",
	} {
		err := vet(pkg)
		if err == nil {
			t.Fatalf("%s: invalid file accepted", pkg)
		}
		if all := errors.Details(err, nil); !strings.Contains(all, want) {
			t.Errorf("%s: cue's errors lack %q:\n%s", pkg, want, all)
		}
	}
}
