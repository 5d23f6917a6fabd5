package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/pierhq/pier/internal/store"
)

// Limits that keep a Markdown plan inside one GitHub comment, which GitHub
// caps at 65,536 characters. Beyond them the reader is told how much was
// left out; the full plan stays available from the CLI and the API.
const (
	mdMaxChanges  = 500   // changes listed before "... and N more"
	mdMaxFields   = 50    // field rows per updated object
	mdMaxValue    = 200   // runes of one rendered value
	mdMaxBytes    = 60000 // whole comment, leaving room for a caller's wrapper
	mdTailReserve = 200   // bytes kept free for the "... and N more" line
)

// summary is the one-line total shared by both renderers.
func (p Plan) summary() string {
	if p.Empty() {
		return "No changes."
	}
	t := p.Total()
	return fmt.Sprintf("Plan: %d to create, %d to update, %d to delete.", t.Created, t.Updated, t.Deleted)
}

func opSymbol(op store.Op) string {
	switch op {
	case store.OpCreate:
		return "+"
	case store.OpDelete:
		return "-"
	}
	return "~"
}

func fieldSymbol(op FieldOp) string {
	switch op {
	case FieldAdded:
		return "+"
	case FieldRemoved:
		return "-"
	}
	return "~"
}

func fieldPath(f FieldChange) string {
	if f.Path == "" {
		return "(document)"
	}
	return f.Path
}

// WriteText writes the plan in a terraform-like form for terminals and CI
// logs, one line per change and one indented line per changed field:
//
//	~ entity service/api
//	  ~ properties.lifecycle: "Staging" -> "Production"
//	  + properties.tier: "gold"
//	+ entity service/user-service
//	- entity service/legacy
//
//	Plan: 1 to create, 1 to update, 1 to delete.
//
// Values are shown in full: a log has no size limit worth trading detail
// for.
func (p Plan) WriteText(w io.Writer) error {
	var b bytes.Buffer
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "%s %s\n", opSymbol(c.Op), c.Key)
		if c.Op != store.OpUpdate {
			continue
		}
		if len(c.Fields) == 0 {
			b.WriteString("  (JSON encoding differs; no field changed)\n")
		}
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "  %s %s: ", fieldSymbol(f.Op), fieldPath(f))
			switch f.Op {
			case FieldAdded:
				b.WriteString(formatValue(f.After))
			case FieldRemoved:
				b.WriteString(formatValue(f.Before))
			default:
				b.WriteString(formatValue(f.Before))
				b.WriteString(" -> ")
				b.WriteString(formatValue(f.After))
			}
			b.WriteByte('\n')
		}
	}
	if !p.Empty() {
		b.WriteByte('\n')
	}
	b.WriteString(p.summary())
	b.WriteByte('\n')
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// WriteMarkdown writes the plan as a GitHub pull-request comment: a
// heading, the summary, a table of counts per kind, then one list item per
// change, with an update's field changes in a collapsible table.
//
// Values are shown as code so that catalog text can never be read as
// Markdown, HTML or an @-mention. The output is bounded to fit one comment:
// long values are cut at 200 characters, an update lists at most 50
// fields, and the list stops after 500 changes or about 60,000 bytes,
// saying how many were left out.
func (p Plan) WriteMarkdown(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("### pier plan\n\n")
	if p.Empty() {
		b.WriteString("No changes.\n")
		return writeAll(w, b.Bytes())
	}
	fmt.Fprintf(&b, "**%s**\n\n", p.summary())

	b.WriteString("| Kind | Create | Update | Delete |\n| --- | ---: | ---: | ---: |\n")
	counts := p.Counts()
	for _, k := range p.kinds() {
		n := counts[k]
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", mdText(string(k)), n.Created, n.Updated, n.Deleted)
	}
	b.WriteByte('\n')

	var entry bytes.Buffer
	shown := 0
	for _, c := range p.Changes {
		if shown == mdMaxChanges {
			break
		}
		entry.Reset()
		writeMarkdownChange(&entry, c)
		if b.Len()+entry.Len()+mdTailReserve > mdMaxBytes {
			break
		}
		b.Write(entry.Bytes())
		shown++
	}
	if rest := len(p.Changes) - shown; rest > 0 {
		fmt.Fprintf(&b, "\n… and %d more %s not shown.\n", rest, plural(rest, "change", "changes"))
	}
	return writeAll(w, b.Bytes())
}

func writeMarkdownChange(b *bytes.Buffer, c Change) {
	fmt.Fprintf(b, "- **%s** %s", c.Op, mdCode(c.Key.String(), false))
	if c.Source.IsValid() {
		fmt.Fprintf(b, " — %s", mdCode(c.Source.String(), false))
	}
	if c.Op != store.OpUpdate {
		b.WriteByte('\n')
		return
	}
	if len(c.Fields) == 0 {
		b.WriteString(" — JSON encoding differs; no field changed\n")
		return
	}
	fmt.Fprintf(b, " — %d %s\n\n", len(c.Fields), plural(len(c.Fields), "field", "fields"))
	// Indented by two spaces so the block stays inside the list item.
	b.WriteString("  <details><summary>Field changes</summary>\n\n")
	b.WriteString("  | | Field | Before | After |\n  | --- | --- | --- | --- |\n")
	for i, f := range c.Fields {
		if i == mdMaxFields {
			break
		}
		before, after := "", ""
		if f.Op != FieldAdded {
			before = mdCode(truncate(formatValue(f.Before), mdMaxValue), true)
		}
		if f.Op != FieldRemoved {
			after = mdCode(truncate(formatValue(f.After), mdMaxValue), true)
		}
		fmt.Fprintf(b, "  | %s | %s | %s | %s |\n", f.Op, mdCode(truncate(fieldPath(f), mdMaxValue), true), before, after)
	}
	if rest := len(c.Fields) - mdMaxFields; rest > 0 {
		fmt.Fprintf(b, "\n  … and %d more %s.\n", rest, plural(rest, "field", "fields"))
	}
	b.WriteString("\n  </details>\n\n")
}

func writeAll(w io.Writer, p []byte) error {
	if _, err := w.Write(p); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// formatValue renders a decoded JSON value as compact JSON, so strings are
// quoted and numbers appear exactly as written.
func formatValue(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n {
			return s[:k] + "…"
		}
		i++
	}
	return s
}

// mdCode renders s as a Markdown code span, whose content GitHub shows
// literally: no emphasis, links, HTML or mentions. The fence is longer
// than any backtick run in s. Inside a table cell a pipe would end the
// cell even within a code span, so it is escaped; GitHub removes the
// backslash again.
func mdCode(s string, inTable bool) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	if inTable {
		s = strings.ReplaceAll(s, "|", `\|`)
	}
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.TrimSpace(s) == "" {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdText escapes plain text for Markdown.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_{}[]()<>#+-.!|~@&", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
