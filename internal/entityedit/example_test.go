package entityedit

import (
	"context"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/loader"
)

// Every entity of catalog-example, in every syntax and layout it uses,
// gets a new title and an owning team; the catalog must still load and
// each edit must touch only the lines of those two fields. Two files are
// the documented exceptions: production.cue generates its entities with a
// comprehension (nothing to edit), and money-movement.cue closes its
// entities with a definition that has no team field (an insert pier
// cannot check; the catalog check of the pull request would report it).
func TestExampleCatalog(t *testing.T) {
	const generated, closed = "entities/deployment/production.cue", "entities/service/money-movement.cue"
	root := os.DirFS("../../catalog-example")
	l, err := loader.New(0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Load(context.Background(), root)
	if err != nil || !res.OK() {
		t.Fatalf("catalog-example does not load: %v %v", err, res.Diagnostics)
	}
	byFile := map[string][][2]string{}
	for bp, es := range res.Catalog.Entities {
		for id := range es {
			file := res.Objects[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}].Source.File
			byFile[file] = append(byFile[file], [2]string{bp, id})
		}
	}
	fsys := fstest.MapFS{}
	if err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		fsys[p] = &fstest.MapFile{Data: b}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, file := range files {
		src := fsys[file].Data
		for _, e := range byFile[file] {
			changes := []Change{{Name: "title", Value: "Edited " + e[1]}, {Name: "team", Value: "platform"}}
			if file == closed {
				changes = changes[:1]
			}
			out, _, err := Set(path.Base(file), src, e[0], e[1], changes)
			if file == generated {
				if err == nil || !strings.Contains(err.Error(), "is not declared in this file") {
					t.Errorf("%s: %v", file, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", file, err)
				continue
			}
			if d := lineDiff(string(src), string(out)); len(d) > 3 || !strings.Contains(strings.Join(d, "\n"), "Edited "+e[1]) {
				t.Errorf("%s %s/%s: diff\n%s", file, e[0], e[1], strings.Join(d, "\n"))
			}
			src = out
		}
		edited := fstest.MapFS{}
		for k, v := range fsys {
			edited[k] = v
		}
		edited[file] = &fstest.MapFile{Data: src}
		res, err := l.Load(context.Background(), edited)
		if err != nil || !res.OK() {
			t.Errorf("%s: the edited catalog does not load: %v %v\n%s", file, err, res.Diagnostics, src)
			continue
		}
		for _, e := range byFile[file] {
			got := res.Catalog.Entities[e[0]][e[1]]
			if file == generated || file == closed && got.Title == "Edited "+e[1] {
				continue
			}
			if got.Title != "Edited "+e[1] || len(got.Team) != 1 || got.Team[0] != "platform" {
				t.Errorf("%s/%s: title %q, team %q", e[0], e[1], got.Title, got.Team)
			}
		}
	}
}
