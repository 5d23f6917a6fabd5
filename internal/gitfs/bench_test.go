package gitfs

import (
	"fmt"
	"io/fs"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// largeRepo writes a catalog of dirs×files small files under catalog/ as
// two commits, the second changing one file, straight into the object
// store: going through a work tree would take minutes at this size.
func largeRepo(b *testing.B, dirs, files int) (dir string, c1, c2 plumbing.Hash) {
	b.Helper()
	dir = b.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		b.Fatal(err)
	}
	s := repo.Storer
	put := func(enc interface {
		Encode(plumbing.EncodedObject) error
	}) plumbing.Hash {
		o := s.NewEncodedObject()
		if err := enc.Encode(o); err != nil {
			b.Fatal(err)
		}
		h, err := s.SetEncodedObject(o)
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	blob := func(content string) plumbing.Hash {
		o := s.NewEncodedObject()
		o.SetType(plumbing.BlobObject)
		w, err := o.Writer()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		h, err := s.SetEncodedObject(o)
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	// Names are zero-padded, so name order is git's tree order.
	dirEntries := make([]object.TreeEntry, dirs)
	var changedDir []object.TreeEntry
	for d := range dirs {
		es := make([]object.TreeEntry, files)
		for f := range files {
			name := fmt.Sprintf("entity%04d.cue", f)
			es[f] = object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: blob(fmt.Sprintf("d%d: e%d: {title: %q}\n", d, f, name))}
		}
		if d == dirs/2 {
			changedDir = append([]object.TreeEntry(nil), es...)
		}
		dirEntries[d] = object.TreeEntry{Name: fmt.Sprintf("team%03d", d), Mode: filemode.Dir, Hash: put(&object.Tree{Entries: es})}
	}
	commit := func(dirEntries []object.TreeEntry, parents ...plumbing.Hash) plumbing.Hash {
		catalog := put(&object.Tree{Entries: dirEntries})
		root := put(&object.Tree{Entries: []object.TreeEntry{{Name: "catalog", Mode: filemode.Dir, Hash: catalog}}})
		return put(&object.Commit{Author: sig, Committer: sig, Message: "bench", TreeHash: root, ParentHashes: parents})
	}
	c1 = commit(dirEntries)

	changedDir[files/2].Hash = blob("changed\n")
	dirEntries2 := append([]object.TreeEntry(nil), dirEntries...)
	dirEntries2[dirs/2].Hash = put(&object.Tree{Entries: changedDir})
	c2 = commit(dirEntries2, c1)

	if err := s.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName("master"), c2)); err != nil {
		b.Fatal(err)
	}
	return dir, c1, c2
}

// BenchmarkLargeCatalog measures a 20,000-file catalog in 200
// directories, first as loose objects (a repository built by commits)
// and then packed (a clone or a gc'd repository).
func BenchmarkLargeCatalog(b *testing.B) {
	const dirs, files = 200, 100
	dir, c1, c2 := largeRepo(b, dirs, files)
	run := func(b *testing.B) {
		r, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		from, to := c1.String(), c2.String()

		b.Run("ChangedFiles/one-file", func(b *testing.B) {
			for b.Loop() {
				cs, err := r.ChangedFiles(from, to, "catalog")
				if err != nil || len(cs) != 1 {
					b.Fatalf("ChangedFiles = %v, %v", cs, err)
				}
			}
		})
		b.Run("WalkDir", func(b *testing.B) {
			for b.Loop() {
				// A fresh FS each time: a reload starts with cold
				// directory caches.
				fsys, err := r.FS(to, "catalog")
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() {
						n++
					}
					return err
				})
				if err != nil || n != dirs*files {
					b.Fatalf("WalkDir found %d files, %v", n, err)
				}
			}
		})
		b.Run("WalkDir+ReadFile", func(b *testing.B) {
			for b.Loop() {
				fsys, err := r.FS(to, "catalog")
				if err != nil {
					b.Fatal(err)
				}
				err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					_, err = fsys.ReadFile(p)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Hash/200-files", func(b *testing.B) {
			fsys, err := r.FS(to, "catalog")
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				for d := range dirs {
					if _, err := fsys.Hash(fmt.Sprintf("team%03d/entity%04d.cue", d, d%files)); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
	b.Run("loose", run)

	repo, err := git.PlainOpen(dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := repo.RepackObjects(&git.RepackConfig{}); err != nil {
		b.Fatal(err)
	}
	b.Run("packed", run)
}
