package decimal

import (
	"math/big"
	"regexp"
	"strings"
	"testing"
)

func mustParse(t testing.TB, s string) Decimal {
	t.Helper()
	d, ok := Parse(s)
	if !ok {
		t.Fatalf("Parse(%q) failed", s)
	}
	return d
}

func TestParse(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "1", "-1", "+5", "5.", ".5", "-.5", "00012.3400", "1e5", "1E5", "1e+5",
		"1e-5", "1e0005", "1e-0", "0.000e-7", "1e99999999999999999999999999", "123456789012345678901234567890",
	} {
		if _, ok := Parse(s); !ok {
			t.Errorf("Parse(%q) rejected", s)
		}
	}
	for _, s := range []string{
		"", "-", "+", ".", "-.", "e5", ".e5", "1e", "1e+", "1e-", "1e+-5", "1.2.3", "1e5.0", "1e5e5",
		"0x10", "1_000", "NaN", "Inf", "-Infinity", "1 ", " 1", "--1", "+-1", "1f",
	} {
		if _, ok := Parse(s); ok {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "2", -1},
		{"1", "1.0", 0},
		{"100", "1e2", 0},
		{"1.50", "1.5", 0},
		{"-0", "0", 0},
		{"0.000", "0e10", 0},
		{"-0.0e-5", "0", 0},
		{"-1", "0", -1},
		{"-2", "-1", -1},
		{"-1.5", "-1.25", -1},
		{"0.05", "0.5", -1},
		{"0.05", "5e-2", 0},
		{"00012.3400", "12.34", 0},
		{"+5", "5", 0},
		{".5", "0.5", 0},
		{"5.", "5", 0},
		{"-.5", "-0.5", 0},
		{"9", "10", -1},
		{"99.9", "100", -1},
		{"0.1", "0.09999999999999999999", 1},
		{"9007199254740993", "9007199254740992", 1},
		{"0.10000000000000000001", "0.1", 1},
		{"0.30000000000000001", "0.3", 1},
		{"-9007199254740993", "-9007199254740992", -1},
		{"123456789012345678901234567890", "1.2345678901234567890123456789e29", 0},
		{"123456789012345678901234567891", "1.2345678901234567890123456789e29", 1},
		// Beyond float64.
		{"1e400", "1e401", -1},
		{"1e400", "10e399", 0},
		{"-1e400", "1", -1},
		{"1e-400", "2e-400", -1},
		{"1e-400", "0", 1},
		{"-1e-400", "0", -1},
		// Beyond big.Rat, and beyond int64 exponents.
		{"1e1000000000", "1e999999999", 1},
		{"1e1000000000", "10e999999999", 0},
		{"1e999999999999999999999", "1e400", 1},
		{"1e-999999999999999999999", "1e-400", -1},
		{"1e-999999999999999999999", "0", 1},
		{"-1e999999999999999999999", "-1e400", -1},
		{"1e99999999999999999999", "1e99999999999999999999", 0},
		{"1e99999999999999999999", "10e99999999999999999998", 0},
		{"1e99999999999999999999", "0.1e100000000000000000000", 0},
		{"1e99999999999999999999", "0.1e100000000000000000001", -1},
		{"1.5e99999999999999999999", "0.15e100000000000000000000", 0},
		{"1.5e99999999999999999999", "0.16e100000000000000000000", -1},
		{"1e-99999999999999999999", "0.1e-99999999999999999998", 0},
		{"1e-99999999999999999999", "100e-100000000000000000001", 0},
		{"1e-99999999999999999999", "1e-100000000000000000000", 1},
		{"-1e-99999999999999999999", "-1e-100000000000000000000", -1},
		{"1e99999999999999999999", "1e-99999999999999999999", 1},
		{"1e00000000000000000000000001", "10", 0},
		{"1e99999999999999999999", "1e10000000000000000000", 1},
		{"1e-99999999999999999999", "1e-10000000000000000000", -1},
		{"1e5", "1e1000000000000000000", -1},
		{"1e-5", "1e-1000000000000000000", 1},
		// Where exponents stop fitting in an int64: 18 digits and 19.
		{"1e999999999999999999", "1e1000000000000000000", -1},
		{"10e999999999999999999", "1e1000000000000000000", 0},
		{"100e999999999999999998", "0.1e1000000000000000001", 0},
		{"0.01e1000000000000000000", "1e999999999999999998", 0},
		{"0.001e1000000000000000000", "1e999999999999999998", -1},
		{"1e-999999999999999999", "1e-1000000000000000000", 1},
		{"0.1e-999999999999999999", "1e-1000000000000000000", 0},
		{"1000e-1000000000000000000", "1e-999999999999999997", 0},
		{"1e9223372036854775807", "10e9223372036854775806", 0},
		{"1e9223372036854775808", "1e9223372036854775807", 1},
		{"1e-9223372036854775809", "0.1e-9223372036854775808", 0},
	}
	for _, tt := range tests {
		a, b := mustParse(t, tt.a), mustParse(t, tt.b)
		if got := Compare(a, b); got != tt.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Compare(b, a); got != -tt.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
		ka, kb := string(a.AppendCanonical(nil)), string(b.AppendCanonical(nil))
		if (ka == kb) != (tt.want == 0) {
			t.Errorf("canonical literals of %s and %s are %s and %s", tt.a, tt.b, ka, kb)
		}
	}
}

func TestDigitsAndFloat(t *testing.T) {
	tests := []struct {
		s      string
		digits int
		float  bool
	}{
		{"0", 0, false}, {"-0.0", 0, true}, {"0e5", 0, true}, {"7", 1, false}, {"100", 1, false},
		{"1.25", 3, true}, {"12.5", 3, true}, {"0.0125", 3, true}, {"1e2", 1, true}, {"5.", 1, true},
		{"-120034000", 6, false}, {"1E-400", 1, true},
	}
	for _, tt := range tests {
		d := mustParse(t, tt.s)
		if got := d.Digits(); got != tt.digits {
			t.Errorf("Parse(%q).Digits() = %d, want %d", tt.s, got, tt.digits)
		}
		if got := d.Float(); got != tt.float {
			t.Errorf("Parse(%q).Float() = %v, want %v", tt.s, got, tt.float)
		}
	}
}

func TestAppendCanonical(t *testing.T) {
	tests := []struct{ s, want string }{
		{"0", "0"}, {"-0.0", "0"}, {"0e-99999999999999999999", "0"},
		{"7", "7"}, {"7.0", "7"}, {"-125000", "-125e3"}, {"-1.25E5", "-125e3"}, {"0.030", "3e-2"},
		{"12.34", "1234e-2"}, {"+00012.3400", "1234e-2"}, {"1e400", "1e400"}, {"0.1e1", "1"},
		{"1e99999999999999999999", "1e99999999999999999999"},
		{"12.5e99999999999999999999", "125e99999999999999999998"},
		{"0.001e100000000000000000000", "1e99999999999999999997"},
		{"1000e99999999999999999999", "1e100000000000000000002"},
		{"1e-99999999999999999999", "1e-99999999999999999999"},
		{"-0.125e-99999999999999999999", "-125e-100000000000000000002"},
		{"1000e-100000000000000000000", "1e-99999999999999999997"},
		{"1e-1000000000000000000", "1e-1000000000000000000"},
		{"10e-1000000000000000000", "1e-999999999999999999"},
		{"0.1e1000000000000000000", "1e999999999999999999"},
	}
	for _, tt := range tests {
		got := string(mustParse(t, tt.s).AppendCanonical([]byte("x")))
		if got != "x"+tt.want {
			t.Errorf("Parse(%q).AppendCanonical(x) = %s, want x%s", tt.s, got, tt.want)
		}
	}
}

func TestZeroValue(t *testing.T) {
	var z Decimal
	if c := Compare(z, mustParse(t, "-0.0")); c != 0 {
		t.Errorf("Compare(Decimal{}, -0.0) = %d", c)
	}
	if c := Compare(z, mustParse(t, "1e-400")); c != -1 {
		t.Errorf("Compare(Decimal{}, 1e-400) = %d", c)
	}
	if z.Digits() != 0 || z.Float() || string(z.AppendCanonical(nil)) != "0" {
		t.Errorf("Decimal{} is not 0")
	}
}

func TestAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	lits := []string{"9007199254740993", "-1.25e-7", "1e99999999999999999999", "0.1e100000000000000000000"}
	allocs := testing.AllocsPerRun(100, func() {
		for _, x := range lits {
			for _, y := range lits {
				a, _ := Parse(x)
				b, _ := Parse(y)
				_ = Compare(a, b)
				buf = b.AppendCanonical(buf[:0])
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Parse, Compare and AppendCanonical allocate %v times", allocs)
	}
}

// jsonish is the syntax Parse accepts: JSON numbers, leniently.
var jsonish = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// ref is a number as math/big holds it: m × 10^e, where m has no
// trailing zero, and e is 0 if m is. moderate reports whether big.Rat can
// read the literal, and quickly: its exponent is small.
type ref struct {
	m, e     *big.Int
	moderate bool
}

var ten = big.NewInt(10)

// parseRef reads a literal that jsonish matches.
func parseRef(s string) ref {
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	r := ref{m: new(big.Int), e: new(big.Int)}
	if exp != "" {
		r.e.SetString(exp, 10)
	}
	r.moderate = r.e.CmpAbs(big.NewInt(10000)) < 0
	ip, fp, _ := strings.Cut(strings.TrimLeft(mant, "+-"), ".")
	r.m.SetString("0"+ip+fp, 10)
	if strings.HasPrefix(mant, "-") {
		r.m.Neg(r.m)
	}
	r.e.Sub(r.e, big.NewInt(int64(len(fp))))
	if r.m.Sign() == 0 {
		r.e.SetInt64(0)
		return r
	}
	q, rem := new(big.Int), new(big.Int)
	for {
		q.QuoRem(r.m, ten, rem)
		if rem.Sign() != 0 {
			return r
		}
		r.m.Set(q)
		r.e.Add(r.e, big.NewInt(1))
	}
}

// cmpRef compares by sign, then by the exponent of the leading digit,
// then by the significands scaled to the same length.
func cmpRef(a, b ref) int {
	if a.m.Sign() != b.m.Sign() || a.m.Sign() == 0 {
		return a.m.Cmp(b.m)
	}
	s := a.m.Sign()
	am, bm := new(big.Int).Abs(a.m), new(big.Int).Abs(b.m)
	na, nb := len(am.String()), len(bm.String())
	la := new(big.Int).Add(a.e, big.NewInt(int64(na)))
	lb := new(big.Int).Add(b.e, big.NewInt(int64(nb)))
	if c := la.Cmp(lb); c != 0 {
		return s * c
	}
	if na < nb {
		am.Mul(am, new(big.Int).Exp(ten, big.NewInt(int64(nb-na)), nil))
	} else {
		bm.Mul(bm, new(big.Int).Exp(ten, big.NewInt(int64(na-nb)), nil))
	}
	return s * am.Cmp(bm)
}

func (r ref) canonical() string {
	if r.e.Sign() == 0 {
		return r.m.String()
	}
	return r.m.String() + "e" + r.e.String()
}

// FuzzCompare holds Parse to its syntax, and Compare and AppendCanonical
// to math/big: to big.Rat where it can hold the numbers, and otherwise to
// significands and exponents compared as big.Int.
func FuzzCompare(f *testing.F) {
	f.Add("9007199254740993", "9007199254740992")
	f.Add("0.1", "1e-1")
	f.Add("-0", "0.000")
	f.Add("123.456e7", "1234560000")
	f.Add("+.5", "5.e-1")
	f.Add("1e1000000000", "10e999999999")
	f.Add("1e99999999999999999999", "0.1e100000000000000000000")
	f.Add("100e999999999999999998", "0.1e1000000000000000001")
	f.Add("-1e-9223372036854775809", "-0.1e-9223372036854775808")
	f.Add("0", "0e10000000000000000000")
	f.Fuzz(func(t *testing.T, a, b string) {
		da, okA := Parse(a)
		db, okB := Parse(b)
		if okA != jsonish.MatchString(a) || okB != jsonish.MatchString(b) {
			t.Fatalf("Parse(%q) = %v, Parse(%q) = %v; syntax says %v, %v", a, okA, b, okB, !okA, !okB)
		}
		if !okA || !okB {
			return
		}
		ra, rb := parseRef(a), parseRef(b)
		want := cmpRef(ra, rb)
		if ra.moderate && rb.moderate {
			qa, _ := new(big.Rat).SetString(a)
			qb, _ := new(big.Rat).SetString(b)
			if c := qa.Cmp(qb); c != want {
				t.Fatalf("test reference: %s vs %s is %d, big.Rat says %d", a, b, want, c)
			}
		}
		if got := Compare(da, db); got != want {
			t.Fatalf("Compare(%s, %s) = %d, want %d", a, b, got, want)
		}
		ka := string(da.AppendCanonical(nil))
		if want := ra.canonical(); ka != want {
			t.Fatalf("Parse(%q).AppendCanonical = %s, want %s", a, ka, want)
		}
		if back, ok := Parse(ka); !ok || Compare(back, da) != 0 {
			t.Fatalf("canonical literal %s of %s does not read back", ka, a)
		}
	})
}
