package plan

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

func entityKey(bp, id string) catalog.Key {
	return catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}
}

func blueprintKey(id string) catalog.Key {
	return catalog.Key{Kind: catalog.KindBlueprintObj, ID: id}
}

// obj builds an object from literal JSON, hashed as the loader would.
func obj(k catalog.Key, js string) catalog.Object {
	return catalog.Object{Key: k, JSON: []byte(js), Hash: catalog.HashJSON([]byte(js)), Source: catalog.Pos{File: "catalog/" + k.ID + ".cue", Line: 1}}
}

func objects(objs ...catalog.Object) map[catalog.Key]catalog.Object {
	m := map[catalog.Key]catalog.Object{}
	for _, o := range objs {
		m[o.Key] = o
	}
	return m
}

func TestComputeOps(t *testing.T) {
	api := entityKey("service", "api")
	user := entityKey("service", "user-service")
	old := entityKey("service", "old")
	bp := blueprintKey("service")
	tests := []struct {
		name   string
		before map[catalog.Key]catalog.Object
		after  map[catalog.Key]catalog.Object
		want   []catalog.Key
		ops    []store.Op
	}{
		{
			name: "empty",
		},
		{
			name:   "unchanged objects omitted",
			before: objects(obj(api, `{"a":1}`), obj(bp, `{"identifier":"service"}`)),
			after:  objects(obj(api, `{"a":1}`), obj(bp, `{"identifier":"service"}`)),
		},
		{
			name:  "create",
			after: objects(obj(user, `{"identifier":"user-service"}`)),
			want:  []catalog.Key{user},
			ops:   []store.Op{store.OpCreate},
		},
		{
			name:   "delete",
			before: objects(obj(old, `{"identifier":"old"}`)),
			want:   []catalog.Key{old},
			ops:    []store.Op{store.OpDelete},
		},
		{
			name:   "update",
			before: objects(obj(api, `{"a":1}`)),
			after:  objects(obj(api, `{"a":2}`)),
			want:   []catalog.Key{api},
			ops:    []store.Op{store.OpUpdate},
		},
		{
			name:   "mixed, ordered blueprints first then by blueprint and id",
			before: objects(obj(api, `{"a":1}`), obj(old, `{}`), obj(bp, `{"x":1}`)),
			after:  objects(obj(api, `{"a":2}`), obj(user, `{}`), obj(bp, `{"x":2}`)),
			want:   []catalog.Key{bp, api, old, user},
			ops:    []store.Op{store.OpUpdate, store.OpUpdate, store.OpDelete, store.OpCreate},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compute(tt.before, tt.after)
			var keys []catalog.Key
			var ops []store.Op
			for _, c := range p.Changes {
				keys = append(keys, c.Key)
				ops = append(ops, c.Op)
			}
			if !reflect.DeepEqual(keys, tt.want) || !reflect.DeepEqual(ops, tt.ops) {
				t.Errorf("Compute = %v %v, want %v %v", keys, ops, tt.want, tt.ops)
			}
			if p.Empty() != (len(tt.want) == 0) {
				t.Errorf("Empty() = %v with %d changes", p.Empty(), len(p.Changes))
			}
		})
	}
}

func TestComputeChangeContents(t *testing.T) {
	api := entityKey("service", "api")
	user := entityKey("service", "user")
	old := entityKey("service", "old")
	before := objects(obj(api, `{"a":1}`), obj(old, `{"o":true}`))
	after := objects(obj(api, `{"a":2}`), obj(user, `{"u":"x"}`))
	p := Compute(before, after)
	byKey := map[catalog.Key]Change{}
	for _, c := range p.Changes {
		byKey[c.Key] = c
	}

	c := byKey[user]
	if c.Before != nil || string(c.After) != `{"u":"x"}` || c.Hash != after[user].Hash || c.Source != after[user].Source || len(c.Fields) != 0 {
		t.Errorf("create = %+v", c)
	}
	c = byKey[old]
	if string(c.Before) != `{"o":true}` || c.After != nil || c.Hash != "" || len(c.Fields) != 0 {
		t.Errorf("delete = %+v", c)
	}
	c = byKey[api]
	if string(c.Before) != `{"a":1}` || string(c.After) != `{"a":2}` || c.Hash != after[api].Hash {
		t.Errorf("update = %+v", c)
	}
	want := []FieldChange{{Path: "a", Op: FieldChanged, Before: json.Number("1"), After: json.Number("2")}}
	if !reflect.DeepEqual(c.Fields, want) {
		t.Errorf("update fields = %#v, want %#v", c.Fields, want)
	}

	sc := p.StoreChanges()
	if len(sc) != len(p.Changes) {
		t.Fatalf("StoreChanges returned %d changes, want %d", len(sc), len(p.Changes))
	}
	for i, s := range sc {
		c := p.Changes[i]
		if s.Key != c.Key || s.Op != c.Op || string(s.Before) != string(c.Before) || string(s.After) != string(c.After) || s.Hash != c.Hash || s.Source != c.Source {
			t.Errorf("StoreChanges[%d] = %+v, want fields of %+v", i, s, c)
		}
		if s.Op != store.OpDelete && s.Hash != after[s.Key].Hash {
			t.Errorf("StoreChanges[%d].Hash = %q, want hash of the after object", i, s.Hash)
		}
	}
}

func TestCounts(t *testing.T) {
	p := Compute(
		objects(obj(blueprintKey("a"), `1`), obj(entityKey("a", "x"), `1`), obj(entityKey("a", "y"), `1`)),
		objects(obj(blueprintKey("a"), `2`), obj(blueprintKey("b"), `1`), obj(entityKey("a", "x"), `2`), obj(entityKey("a", "z"), `1`)),
	)
	want := map[catalog.Kind]Counts{
		catalog.KindBlueprintObj: {Created: 1, Updated: 1},
		catalog.KindEntityObj:    {Created: 1, Updated: 1, Deleted: 1},
	}
	if got := p.Counts(); !reflect.DeepEqual(got, want) {
		t.Errorf("Counts() = %v, want %v", got, want)
	}
	if got := p.Total(); got != (Counts{Created: 2, Updated: 2, Deleted: 1}) || got.Total() != 5 {
		t.Errorf("Total() = %+v", got)
	}
}

func TestDiffJSON(t *testing.T) {
	tests := []struct {
		name          string
		before, after string
		want          []FieldChange
	}{
		{
			name:   "identical",
			before: `{"a":{"b":[1,2]}}`,
			after:  `{"a":{"b":[1,2]}}`,
		},
		{
			name:   "nested property change",
			before: `{"identifier":"api","properties":{"lifecycle":"Staging","tier":1}}`,
			after:  `{"identifier":"api","properties":{"lifecycle":"Production","tier":1}}`,
			want:   []FieldChange{{Path: "properties.lifecycle", Op: FieldChanged, Before: "Staging", After: "Production"}},
		},
		{
			name:   "added and removed properties",
			before: `{"properties":{"old":true},"relations":{}}`,
			after:  `{"properties":{"new":"x"},"relations":{"team":"platform"}}`,
			want: []FieldChange{
				{Path: "properties.new", Op: FieldAdded, After: "x"},
				{Path: "properties.old", Op: FieldRemoved, Before: true},
				{Path: "relations.team", Op: FieldAdded, After: "platform"},
			},
		},
		{
			name:   "added nested object is one change",
			before: `{}`,
			after:  `{"properties":{"a":1}}`,
			want:   []FieldChange{{Path: "properties", Op: FieldAdded, After: map[string]any{"a": json.Number("1")}}},
		},
		{
			name:   "arrays compared whole",
			before: `{"schema":{"properties":{"language":{"enum":["Go","Python"]}}}}`,
			after:  `{"schema":{"properties":{"language":{"enum":["Go","Rust","Python"]}}}}`,
			want: []FieldChange{{
				Path: "schema.properties.language.enum", Op: FieldChanged,
				Before: []any{"Go", "Python"}, After: []any{"Go", "Rust", "Python"},
			}},
		},
		{
			name:   "odd keys are quoted",
			before: `{"properties":{"team-name":"a","1x":"b"}}`,
			after:  `{"properties":{"team-name":"c","1x":"b"}}`,
			want:   []FieldChange{{Path: `properties."team-name"`, Op: FieldChanged, Before: "a", After: "c"}},
		},
		{
			name:   "type change",
			before: `{"a":{"b":1}}`,
			after:  `{"a":"b"}`,
			want:   []FieldChange{{Path: "a", Op: FieldChanged, Before: map[string]any{"b": json.Number("1")}, After: "b"}},
		},
		{
			name:   "null to value",
			before: `{"a":null}`,
			after:  `{"a":0}`,
			want:   []FieldChange{{Path: "a", Op: FieldChanged, Before: nil, After: json.Number("0")}},
		},
		{
			// Numbers keep their JSON text through pier, so 1 -> 1.0
			// is a change clients see.
			name:   "1 and 1.0 differ",
			before: `{"replicas":1}`,
			after:  `{"replicas":1.0}`,
			want:   []FieldChange{{Path: "replicas", Op: FieldChanged, Before: json.Number("1"), After: json.Number("1.0")}},
		},
		{
			name:   "large numbers compare exactly",
			before: `{"n":9007199254740993}`,
			after:  `{"n":9007199254740992}`,
			want:   []FieldChange{{Path: "n", Op: FieldChanged, Before: json.Number("9007199254740993"), After: json.Number("9007199254740992")}},
		},
		{
			name:   "key order and whitespace are not changes",
			before: `{"a":1, "b":[1, {"c":2}]}`,
			after:  `{"b":[1,{"c":2}],"a":1}`,
		},
		{
			name:   "root is not an object",
			before: `[1]`,
			after:  `[2]`,
			want:   []FieldChange{{Path: "", Op: FieldChanged, Before: []any{json.Number("1")}, After: []any{json.Number("2")}}},
		},
		{
			name:   "undecodable document",
			before: `{"a":`,
			after:  `{"a":1}`,
			want:   []FieldChange{{Path: "", Op: FieldChanged, Before: `{"a":`, After: `{"a":1}`}},
		},
		{
			name:   "trailing data is undecodable",
			before: `{"a":1}`,
			after:  `{"a":1} {}`,
			want:   []FieldChange{{Path: "", Op: FieldChanged, Before: `{"a":1}`, After: `{"a":1} {}`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DiffJSON([]byte(tt.before), []byte(tt.after))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DiffJSON(%s, %s) =\n%#v\nwant\n%#v", tt.before, tt.after, got, tt.want)
			}
		})
	}
}

// samplePlan is a plan with one of each operation, including an update
// with every kind of field change.
func samplePlan() Plan {
	return Compute(
		objects(
			obj(entityKey("service", "api"), `{"identifier":"api","properties":{"lifecycle":"Staging","legacy":true},"relations":{}}`),
			obj(entityKey("service", "old"), `{"identifier":"old"}`),
		),
		objects(
			obj(entityKey("service", "api"), `{"identifier":"api","properties":{"lifecycle":"Production","tier":"gold"},"relations":{}}`),
			obj(entityKey("service", "user-service"), `{"identifier":"user-service"}`),
			obj(blueprintKey("service"), `{"identifier":"service"}`),
		),
	)
}

func TestWriteText(t *testing.T) {
	var b strings.Builder
	if err := samplePlan().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `+ blueprint service
~ entity service/api
  - properties.legacy: true
  ~ properties.lifecycle: "Staging" -> "Production"
  + properties.tier: "gold"
- entity service/old
+ entity service/user-service

Plan: 2 to create, 1 to update, 1 to delete.
`
	if b.String() != want {
		t.Errorf("WriteText =\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	if err := (Plan{}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != "No changes.\n" {
		t.Errorf("empty WriteText = %q", b.String())
	}
}

func TestWriteDeterministic(t *testing.T) {
	// Maps iterate in random order; many keys make an ordering bug
	// show up as a difference between runs.
	before, after := map[catalog.Key]catalog.Object{}, map[catalog.Key]catalog.Object{}
	for i := range 50 {
		k := entityKey(fmt.Sprintf("bp%d", i%3), fmt.Sprintf("e%02d", i))
		before[k] = obj(k, fmt.Sprintf(`{"p":{"a":%d,"b":%d,"c":%d}}`, i, i, i))
		after[k] = obj(k, fmt.Sprintf(`{"p":{"a":%d,"b":%d,"d":%d}}`, i+1, i, i))
	}
	render := func() string {
		var b strings.Builder
		p := Compute(before, after)
		if err := p.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if err := p.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	first := render()
	for range 5 {
		if got := render(); got != first {
			t.Fatalf("output differs between runs:\n%s\n---\n%s", first, got)
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b strings.Builder
	if err := samplePlan().WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"### pier plan\n",
		"**Plan: 2 to create, 1 to update, 1 to delete.**",
		"| Kind | Create | Update | Delete |",
		"| blueprint | 1 | 0 | 0 |",
		"| entity | 1 | 1 | 1 |",
		"- **create** `blueprint service` — `catalog/service.cue:1`\n",
		"- **update** `entity service/api` — `catalog/api.cue:1` — 3 fields\n",
		"<details><summary>Field changes</summary>",
		"| changed | `properties.lifecycle` | `\"Staging\"` | `\"Production\"` |",
		"| added | `properties.tier` |  | `\"gold\"` |",
		"| removed | `properties.legacy` | `true` |  |",
		"</details>",
		"- **delete** `entity service/old`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Blueprints come before the entities that need them.
	if strings.Index(md, "`blueprint service`") > strings.Index(md, "`entity service/api`") {
		t.Errorf("blueprint listed after entity:\n%s", md)
	}

	b.Reset()
	if err := (Plan{}).WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No changes.") || strings.Contains(b.String(), "| Kind") {
		t.Errorf("empty markdown = %q", b.String())
	}
}

func TestWriteMarkdownEscaping(t *testing.T) {
	k := entityKey("service", "api")
	p := Compute(
		objects(obj(k, `{"properties":{"description":"plain"}}`)),
		objects(obj(k, `{"properties":{"description":"a | b `+"`code`"+` <script> @octocat **bold**"}}`)),
	)
	var b strings.Builder
	if err := p.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	var row string
	for line := range strings.SplitSeq(md, "\n") {
		if strings.Contains(line, "properties.description") {
			row = line
		}
	}
	if row == "" {
		t.Fatalf("no row for the description:\n%s", md)
	}
	// The pipe is escaped so it does not split the table row, and the
	// value sits in a double-backtick span because it contains one.
	want := "``\"a \\| b `code` <script> @octocat **bold**\"``"
	if !strings.Contains(row, want) {
		t.Errorf("row %q lacks %q", row, want)
	}
	if n := strings.Count(strings.ReplaceAll(row, `\|`, ""), "|"); n != 5 {
		t.Errorf("row %q has %d unescaped pipes, want 5 (4 cells)", row, n)
	}
}

func TestMDCode(t *testing.T) {
	tests := []struct {
		in      string
		inTable bool
		want    string
	}{
		{"abc", false, "`abc`"},
		{"a|b", false, "`a|b`"},
		{"a|b", true, "`a\\|b`"},
		{"a`b", false, "``a`b``"},
		{"`a``", false, "``` `a`` ```"},
		{"a\nb", false, "`a b`"},
	}
	for _, tt := range tests {
		if got := mdCode(tt.in, tt.inTable); got != tt.want {
			t.Errorf("mdCode(%q, %v) = %q, want %q", tt.in, tt.inTable, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"ééé", 2, "éé…"},
		{"", 2, ""},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestWriteMarkdownLimits(t *testing.T) {
	t.Run("long value", func(t *testing.T) {
		k := entityKey("service", "api")
		long := strings.Repeat("x", 5000)
		p := Compute(objects(obj(k, `{"d":"a"}`)), objects(obj(k, `{"d":"`+long+`"}`)))
		var b strings.Builder
		if err := p.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), strings.Repeat("x", mdMaxValue)) || !strings.Contains(b.String(), strings.Repeat("x", mdMaxValue-1)+"…") {
			t.Errorf("value not cut at %d runes:\n%s", mdMaxValue, b.String())
		}
	})

	t.Run("many fields", func(t *testing.T) {
		k := entityKey("service", "api")
		var bf, af []string
		for i := range mdMaxFields + 7 {
			bf = append(bf, fmt.Sprintf(`"f%03d":%d`, i, i))
			af = append(af, fmt.Sprintf(`"f%03d":%d`, i, i+1))
		}
		p := Compute(objects(obj(k, "{"+strings.Join(bf, ",")+"}")), objects(obj(k, "{"+strings.Join(af, ",")+"}")))
		var b strings.Builder
		if err := p.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		md := b.String()
		if !strings.Contains(md, "`f049`") || strings.Contains(md, "`f050`") || !strings.Contains(md, "… and 7 more fields.") {
			t.Errorf("fields not capped at %d:\n%s", mdMaxFields, md)
		}
	})

	t.Run("many changes", func(t *testing.T) {
		after := map[catalog.Key]catalog.Object{}
		for i := range mdMaxChanges + 20 {
			k := entityKey("service", fmt.Sprintf("s%04d", i))
			after[k] = obj(k, `{}`)
		}
		var b strings.Builder
		if err := Compute(nil, after).WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		md := b.String()
		if n := strings.Count(md, "- **create**"); n != mdMaxChanges {
			t.Errorf("listed %d changes, want %d", n, mdMaxChanges)
		}
		if !strings.Contains(md, "… and 20 more changes not shown.") {
			t.Errorf("no remainder line:\n%s", md[len(md)-300:])
		}
		if !strings.Contains(md, "**Plan: 520 to create, 0 to update, 0 to delete.**") {
			t.Errorf("summary does not count hidden changes")
		}
	})

	t.Run("byte budget", func(t *testing.T) {
		// 400 updates of long values would be far over a comment's
		// size; the renderer must stop on size before the count cap.
		before, after := map[catalog.Key]catalog.Object{}, map[catalog.Key]catalog.Object{}
		long := strings.Repeat("y", 1000)
		for i := range 400 {
			k := entityKey("service", fmt.Sprintf("s%04d", i))
			before[k] = obj(k, `{"a":"`+long+`1","b":"`+long+`1"}`)
			after[k] = obj(k, `{"a":"`+long+`2","b":"`+long+`2"}`)
		}
		var b strings.Builder
		if err := Compute(before, after).WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		md := b.String()
		if n := utf8.RuneCountInString(md); n > 65536 || len(md) > mdMaxBytes {
			t.Errorf("markdown is %d bytes, %d runes; want at most %d bytes", len(md), n, mdMaxBytes)
		}
		if !strings.Contains(md, "more changes not shown.") {
			t.Errorf("no remainder line")
		}
	})
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

func TestWriteError(t *testing.T) {
	p := samplePlan()
	if err := p.WriteText(failWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteText error = %v", err)
	}
	if err := p.WriteMarkdown(failWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteMarkdown error = %v", err)
	}
}
