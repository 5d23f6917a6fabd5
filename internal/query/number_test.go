package query

import (
	"encoding/json"
	"math"
	"math/big"
	"testing"
)

func TestCmpNum(t *testing.T) {
	cases := []struct {
		a, b any
		want int
	}{
		{json.Number("1"), json.Number("2"), -1},
		{json.Number("2"), json.Number("1"), 1},
		{json.Number("1"), json.Number("1.0"), 0},
		{json.Number("100"), json.Number("1e2"), 0},
		{json.Number("1.50"), json.Number("1.5"), 0},
		{json.Number("-0"), json.Number("0"), 0},
		{json.Number("0.000"), json.Number("0e10"), 0},
		{json.Number("-1"), json.Number("0"), -1},
		{json.Number("-2"), json.Number("-1"), -1},
		{json.Number("-1.5"), json.Number("-1.25"), -1},
		{json.Number("0.05"), json.Number("0.5"), -1},
		// Beyond float64 precision the literal decides.
		{json.Number("9007199254740993"), json.Number("9007199254740992"), 1},
		{json.Number("9007199254740993"), float64(9007199254740992), 1},
		{json.Number("9007199254740992"), float64(9007199254740992), 0},
		{json.Number("0.10000000000000000001"), json.Number("0.1"), 1},
		{json.Number("0.10000000000000000001"), 0.1, 1},
		{json.Number("-9007199254740993"), json.Number("-9007199254740992"), -1},
		{json.Number("-0.10000000000000000001"), -0.1, -1},
		{json.Number("-0.1"), -0.1, 0},
		{json.Number("0.1"), 0.1, 0},
		{json.Number("0.3"), 0.30000000000000004, -1}, // 0.1+0.2 in float64
		{json.Number("85.5"), 85.5, 0},
		{json.Number("1152921504606846977"), int64(1<<60 + 1), 0},
		{json.Number("1152921504606846976"), int64(1<<60 + 1), -1},
		{uint64(1<<63 + 1), json.Number("9223372036854775809"), 0},
		{3, json.Number("3"), 0},
		{3, 3.5, -1},
		// Out of float64 range: still ordered, still exact.
		{json.Number("1e400"), json.Number("1e401"), -1},
		{json.Number("1e400"), json.Number("10e399"), 0},
		{json.Number("-1e400"), json.Number("1"), -1},
		{json.Number("1e-400"), json.Number("2e-400"), -1},
		{json.Number("1e-400"), json.Number("0"), 1},
		{json.Number("1e400"), math.MaxFloat64, 1},
		{json.Number("1e999999999999999999999"), json.Number("1e400"), 1},
		// Subnormals tie as floats; a float64 stands for its shortest
		// decimal, here 5e-324, not for its binary expansion.
		{json.Number("5e-324"), 5e-324, 0},
		{json.Number("4.9406564584124654e-324"), 5e-324, -1},
		{json.Number("5.0000000000000001e-324"), 5e-324, 1},
	}
	for _, tc := range cases {
		a, okA := numOf(tc.a)
		b, okB := numOf(tc.b)
		if !okA || !okB {
			t.Fatalf("numOf(%v, %v) failed", tc.a, tc.b)
		}
		if got := cmpNum(a, b); got != tc.want {
			t.Errorf("cmpNum(%v, %v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := cmpNum(b, a); got != -tc.want {
			t.Errorf("cmpNum(%v, %v) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

// TestCmpNumAgainstBigRat cross-checks cmpNum against math/big on
// literals big.Rat can hold. Package decimal tests the comparison of
// literals that cmpNum falls back on when the floats tie.
func TestCmpNumAgainstBigRat(t *testing.T) {
	lits := []string{"0", "-0", "1", "-1", "0.1", "0.10", "1e1", "10", "9.99", "10.01", "-10.01",
		"123456789012345678901234567890", "123456789012345678901234567891", "1.23456789012345678901234567890e29",
		"0.000001", "1e-6", "1E-7", "-3.14159", "3.14159", "2.5e-3", "25e-4", "7", "6.999999999999999999999",
		"-6.999999999999999999999", "-7", "-0.000001", "-1e-7", "+5", "5.", ".5", "-.5", "00012.3400"}
	for _, a := range lits {
		for _, b := range lits {
			na, _ := parseNum(a)
			nb, _ := parseNum(b)
			ra, _ := new(big.Rat).SetString(a)
			rb, _ := new(big.Rat).SetString(b)
			if got, want := cmpNum(na, nb), ra.Cmp(rb); got != want {
				t.Errorf("cmpNum(%s, %s) = %d, big.Rat says %d", a, b, got, want)
			}
		}
	}
}

func TestParseNumRejects(t *testing.T) {
	for _, s := range []string{"", "-", ".", "e5", "1e", "1e+", "1.2.3", "0x10", "1_000", "NaN", "Inf", "1 "} {
		if _, ok := parseNum(s); ok {
			t.Errorf("parseNum(%q) accepted", s)
		}
	}
	if _, ok := numOf(math.NaN()); ok {
		t.Error("numOf(NaN) accepted")
	}
	if _, ok := numOf(json.Number("abc")); ok {
		t.Error(`numOf(json.Number("abc")) accepted`)
	}
	if _, ok := numOf("3"); ok {
		t.Error(`numOf("3") accepted a string`)
	}
}

func TestParseTime(t *testing.T) {
	cases := []struct {
		s        string
		ok, date bool
	}{
		{"2024-05-10T12:00:00Z", true, false},
		{"2024-05-10T12:00:00.123456789+02:00", true, false},
		{"2024-05-10t12:00:00Z", false, false},
		{"2024-05-10", true, true},
		{"2024-02-29", true, true},
		{"2023-02-29", false, false},
		{"2024-13-01", false, false},
		{"2024-00-10", false, false},
		{"2024-05-10 12:00:00Z", false, false},
		{"2024-05-10T25:00:00Z", false, false},
		{"2024-05-10T12:00:00", false, false},
		{"1.10.0", false, false},
		{"checkout", false, false},
		{"", false, false},
	}
	for _, tc := range cases {
		_, date, ok := parseTime(tc.s)
		if ok != tc.ok || date != tc.date {
			t.Errorf("parseTime(%q) = date %v ok %v, want date %v ok %v", tc.s, date, ok, tc.date, tc.ok)
		}
	}
}

// FuzzCmpNum holds the decimal comparison to math/big on every pair of
// literals both accept.
func FuzzCmpNum(f *testing.F) {
	f.Add("9007199254740993", "9007199254740992")
	f.Add("0.1", "1e-1")
	f.Add("-0", "0.000")
	f.Add("123.456e7", "1234560000")
	f.Fuzz(func(t *testing.T, a, b string) {
		na, okA := parseNum(a)
		nb, okB := parseNum(b)
		ra, okRA := new(big.Rat).SetString(a)
		rb, okRB := new(big.Rat).SetString(b)
		if !okA || !okB || !okRA || !okRB {
			return
		}
		if got, want := cmpNum(na, nb), ra.Cmp(rb); got != want {
			t.Fatalf("cmpNum(%s, %s) = %d, big.Rat says %d", a, b, got, want)
		}
	})
}
