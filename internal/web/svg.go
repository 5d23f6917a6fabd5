package web

import (
	"fmt"
	"math"
)

// Charts are drawn by the server as SVG: no chart library, no script,
// and colours as attributes of SVG shapes (presentation attributes, not
// styles, which the Content-Security-Policy would refuse). Each chart
// also has its numbers in a table or legend for screen readers and for
// anyone who prefers them.

// palette maps Port's colour names to fills; anything else takes the
// next colour of cycle.
var palette = map[string]string{
	"blue": "#4c8dff", "turquoise": "#2bc4b5", "orange": "#ff9f43", "purple": "#9b6bff", "pink": "#ff6fae", "yellow": "#f5c400",
	"green": "#34a853", "red": "#e5484d", "gold": "#d4a72c", "silver": "#a0a7ae", "bronze": "#b87333", "lightGray": "#c4c9ce",
	"darkGray": "#6e7781", "paleBlue": "#9cc3ff", "lime": "#8fd14f", "brown": "#8d6e63", "olive": "#9e9d24", "teal": "#00897b", "gray": "#8c959f",
}

var cycle = []string{"#4c8dff", "#ff9f43", "#34a853", "#9b6bff", "#e5484d", "#2bc4b5", "#f5c400", "#ff6fae", "#8d6e63", "#6e7781"}

func fill(color string, i int) string {
	if c, ok := palette[color]; ok {
		return c
	}
	return cycle[i%len(cycle)]
}

type bar struct {
	Label string
	Value float64
	Color string
}

// barChart is a horizontal bar chart.
type barChart struct {
	Width, Height int
	Bars          []barShape
}

type barShape struct {
	Label, Value, Fill string
	Y, W, TextY        int
}

func newBarChart(bars []bar) barChart {
	const rowH, labelW, maxW = 26, 110, 260
	top := 0.0
	for _, b := range bars {
		top = math.Max(top, b.Value)
	}
	c := barChart{Width: labelW + maxW + 60, Height: rowH*len(bars) + 4}
	for i, b := range bars {
		w := 0
		if top > 0 {
			w = int(b.Value / top * maxW)
		}
		c.Bars = append(c.Bars, barShape{Label: b.Label, Value: num(b.Value), Fill: fill(b.Color, i), Y: i*rowH + 4, W: w, TextY: i*rowH + 20})
	}
	return c
}

func num(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.2f", f)
}

// pieChart is a pie with its legend.
type pieChart struct {
	Slices []pieSlice
	Total  string
}

type pieSlice struct {
	Path, Fill, Label, Value string
	Percent                  int
	Full                     bool // one slice: a circle
}

func newPieChart(bars []bar) pieChart {
	total := 0.0
	for _, b := range bars {
		total += b.Value
	}
	c := pieChart{Total: num(total)}
	if total == 0 {
		return c
	}
	const cx, cy, r = 100.0, 100.0, 90.0
	angle := -math.Pi / 2
	for i, b := range bars {
		frac := b.Value / total
		next := angle + frac*2*math.Pi
		x1, y1 := cx+r*math.Cos(angle), cy+r*math.Sin(angle)
		x2, y2 := cx+r*math.Cos(next), cy+r*math.Sin(next)
		large := 0
		if frac > 0.5 {
			large = 1
		}
		s := pieSlice{Fill: fill(b.Color, i), Label: b.Label, Value: num(b.Value), Percent: int(math.Round(frac * 100)), Full: frac >= 0.9999}
		s.Path = fmt.Sprintf("M%.1f,%.1f L%.1f,%.1f A%.0f,%.0f 0 %d 1 %.1f,%.1f Z", cx, cy, x1, y1, r, r, large, x2, y2)
		c.Slices = append(c.Slices, s)
		angle = next
	}
	return c
}

// lineChart is a line over days.
type lineChart struct {
	Width, Height int
	Points        string
	Dots          []dot
	Max           string
	First, Last   string
}

type dot struct {
	X, Y         int
	Label, Value string
}

func newLineChart(labels []string, values []float64) lineChart {
	const w, h, pad = 420, 160, 24
	c := lineChart{Width: w, Height: h}
	top := 0.0
	for _, v := range values {
		top = math.Max(top, v)
	}
	c.Max = num(top)
	if len(labels) > 0 {
		c.First, c.Last = labels[0], labels[len(labels)-1]
	}
	for i, v := range values {
		x := pad
		if len(values) > 1 {
			x = pad + i*(w-2*pad)/(len(values)-1)
		}
		y := h - pad
		if top > 0 {
			y = h - pad - int(v/top*float64(h-2*pad))
		}
		c.Points += fmt.Sprintf("%d,%d ", x, y)
		c.Dots = append(c.Dots, dot{X: x, Y: y, Label: labels[i], Value: num(v)})
	}
	return c
}
