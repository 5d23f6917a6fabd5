package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"time"
)

// parse reads every page template with the layout: each page is its own
// set, so that every one defines its "content" without clashing.
func (s *Server) parse() error {
	layout, err := fs.ReadFile(templateFiles, "templates/layout.html")
	if err != nil {
		return err
	}
	partials, err := fs.ReadFile(templateFiles, "templates/partials.html")
	if err != nil {
		return err
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return err
	}
	s.pages = map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		body, err := fs.ReadFile(templateFiles, n)
		if err != nil {
			return err
		}
		t, err := template.New(name).Funcs(funcs).Parse(string(layout))
		if err == nil {
			_, err = t.Parse(string(partials))
		}
		if err == nil {
			_, err = t.Parse(string(body))
		}
		if err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

var funcs = template.FuncMap{
	"time":      fmtTime,
	"ago":       ago,
	"short":     short,
	"value":     showValue,
	"color":     colorClass,
	"status":    statusClass,
	"entityURL": entityURL,
	"add":       func(a, b int) int { return a + b },
	"pct": func(n, total int) int {
		if total == 0 {
			return 0
		}
		return n * 100 / total
	},
	"query": func(v any) string {
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	},
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago is how long before now t was, roughly: for people, not machines
// (the exact time is in the element's title).
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// showValue is a property value as a cell shows it.
func showValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case []any:
		parts := make([]string, len(x))
		for i, el := range x {
			parts[i] = showValue(el)
		}
		return strings.Join(parts, ", ")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// colors are the colour names Port's enumColors and level colours use,
// each a class of app.css: a class, never a style attribute, which the
// Content-Security-Policy would refuse.
var colors = map[string]bool{
	"blue": true, "turquoise": true, "orange": true, "purple": true, "pink": true, "yellow": true, "green": true,
	"red": true, "gold": true, "silver": true, "bronze": true, "lightGray": true, "darkGray": true, "paleBlue": true,
	"lime": true, "brown": true, "olive": true, "teal": true, "gray": true,
}

func colorClass(c string) string {
	if colors[c] {
		return "c-" + c
	}
	return "c-none"
}

func statusClass(s string) string {
	switch s {
	case "SUCCESS", "APPROVED", "DISPATCHED":
		return "c-green"
	case "FAILURE", "DECLINED", "EXPIRED":
		return "c-red"
	case "WAITING_FOR_APPROVAL":
		return "c-yellow"
	case "IN_PROGRESS":
		return "c-blue"
	}
	return "c-gray"
}
