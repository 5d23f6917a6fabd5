package scorecard

// Summary is a scorecard's standing over the catalog: how many entities
// reached each level and how many passed and failed each rule. It is the
// body of `GET /v1/scorecards/{id}`.
type Summary struct {
	Identifier          string `json:"identifier"`
	Title               string `json:"title,omitempty"`
	BlueprintIdentifier string `json:"blueprintIdentifier,omitempty"`
	// Entities is the number of entities the scorecard applies to.
	Entities int `json:"entities"`
	// Levels counts entities per level, lowest first; every level is
	// listed, with 0 when no entity is at it.
	Levels []LevelSummary `json:"levels"`
	// Rules counts outcomes per rule, in the scorecard's rule order.
	Rules []RuleSummary `json:"rules"`
}

// LevelSummary is the number of entities at one level.
type LevelSummary struct {
	Title    string `json:"title"`
	Color    string `json:"color,omitempty"`
	Entities int    `json:"entities"`
}

// RuleSummary is the number of entities passing and failing one rule.
type RuleSummary struct {
	Identifier string `json:"identifier"`
	Title      string `json:"title,omitempty"`
	Level      string `json:"level"`
	Passed     int    `json:"passed"`
	Failed     int    `json:"failed"`
}

// Summary counts the scorecard's results in r. Results of rules or
// levels the scorecard no longer has (results older than the compiled
// scorecard) are not counted.
func (s *Scorecard) Summary(r Results) Summary {
	sum := Summary{
		Identifier:          s.id,
		Title:               s.title,
		BlueprintIdentifier: s.blueprint,
		Levels:              make([]LevelSummary, len(s.levels)),
		Rules:               make([]RuleSummary, len(s.rules)),
	}
	for i, l := range s.levels {
		sum.Levels[i] = LevelSummary{Title: l.Title, Color: l.Color}
	}
	for i, ru := range s.rules {
		sum.Rules[i] = RuleSummary{Identifier: ru.id, Title: ru.title, Level: ru.level}
	}
	for _, rs := range r {
		res, ok := rs.Lookup(s.id)
		if !ok {
			continue
		}
		sum.Entities++
		if lv := s.levelOf(res); lv >= 0 {
			sum.Levels[lv].Entities++
		}
		if res.card == s {
			for i := range s.rules {
				if res.rulePassed(i) {
					sum.Rules[i].Passed++
				} else {
					sum.Rules[i].Failed++
				}
			}
			continue
		}
		for i, rr := range res.Rules() {
			j := s.ruleIndex(i, rr.Identifier)
			if j < 0 {
				continue
			}
			if rr.Passed() {
				sum.Rules[j].Passed++
			} else {
				sum.Rules[j].Failed++
			}
		}
	}
	return sum
}

// Summaries returns the summary of every scorecard of the set, in
// evaluation order.
func (s *Set) Summaries(r Results) []Summary {
	out := make([]Summary, len(s.cards))
	for i, c := range s.cards {
		out[i] = c.Summary(r)
	}
	return out
}

// levelOf returns the rank of the level res names, or -1.
func (s *Scorecard) levelOf(res Result) int {
	if i := res.LevelIndex; i >= 0 && i < len(s.levels) && s.levels[i].Title == res.Level {
		return i
	}
	for i, l := range s.levels {
		if l.Title == res.Level {
			return i
		}
	}
	return -1
}

// ruleIndex returns the index of the rule with identifier id, trying
// position i first (results are in rule order), or -1.
func (s *Scorecard) ruleIndex(i int, id string) int {
	if i < len(s.rules) && s.rules[i].id == id {
		return i
	}
	for j := range s.rules {
		if s.rules[j].id == id {
			return j
		}
	}
	return -1
}
