// Package query is pier's one query engine: the search API, scorecard
// filters and rules, action conditions, automations and aggregation
// filters all evaluate Port's query language through it, so an entity
// matches the same way wherever it is asked.
//
// A query is compiled once ([Compile], [Options.Compile]) and evaluated
// many times ([Query.Match], or a [Matcher] for a whole search).
// Compilation validates the query and pre-parses everything it can:
// numbers, date-times, the sets of in/notIn/containsAny, date ranges and
// scorecard level ranks. A query that is not valid is an *[Error] whose
// Path names the offending rule (`rules[2].rules[0]`), so the API can
// answer 400 with something to fix. Evaluating simple rules does not
// allocate.
//
// # Structure
//
// A query is a combinator ("and" or "or") over rules; a rule is a
// property condition, a relatedTo condition or a nested group. Port's
// scorecard spelling `conditions` is read as `rules` by catalog.Query.
//
// An empty and-group matches everything and an empty or-group matches
// nothing. These are the identities of the two operators: a filter with
// no rules keeps every entity, and an or can only widen as rules are
// added to it.
//
// # Properties
//
// A property names, in this order of lookup:
//
//   - a meta-property: $identifier, $title, $blueprint, $icon (strings),
//     $team (an array of team names), $createdAt, $updatedAt (instants;
//     a zero time is missing);
//   - a scorecard level: $scorecard.<id>.level, or $scorecard.<id>,
//     the title of the level the entity reached;
//   - a property, with runtime values winning over declared ones;
//   - a relation, whose value is the related identifier (or array of
//     identifiers for a many relation);
//   - a dotted path into object properties (config.replicas), tried
//     only when no property carries the dotted name itself.
//
// Any other $-name is a compile error rather than a silent miss.
//
// # Operators and types
//
// Numbers compare exactly: entity numbers are json.Number literals and
// are never rounded through float64 when it matters (9007199254740993 >
// 9007199254740992). A float64, from a JSON decoder without UseNumber or
// a runtime value, stands for the shortest decimal that reads back as it,
// so 0.1 equals the literal 0.1. Strings compare bytewise, and as
// instants when both sides are RFC 3339 date-times (a bare full-date is
// midnight UTC). Scorecard levels compare by rank for > >= < <=, using
// Options.Levels or catalog.DefaultLevels; a title that is not a level of
// the scorecard never matches. Booleans support only = and !=.
//
//   - = matches a string, number or boolean of the same type; an array
//     matches when one of its elements does (elements that are arrays are
//     not searched). > >= < <= apply to numbers, strings, date-times and
//     levels; arrays, objects and booleans are unordered.
//   - in matches when the value, or any element of an array value, is in
//     the query's array. containsAny matches an array sharing an element
//     with the query's array, or a string containing one of its strings
//     as a substring.
//   - contains matches a string containing the query's string, or an
//     array with an element equal to the query's value. beginsWith and
//     endsWith match a string, or any string element of an array.
//     Comparisons are case-sensitive.
//   - isEmpty matches a missing property, null, "", [] and {}; false and
//     0 are not empty.
//   - between matches, inclusive at both ends, a date-time within
//     {from, to} (date-times; a bare date as `to` covers that whole day)
//     or within a {preset}, or a number within {from, to} (numbers).
//     Presets are Port's: today, yesterday, tomorrow (calendar days in
//     the clock's location), lastDay, lastWeek, last2Weeks, lastMonth
//     (30 days), last3Months (90), last6Months (180), last12Months (365),
//     last2Years, last3Years, and nextDay … next12Months likewise.
//   - isExpired matches a date-time at or before now (Port's timer has
//     run out); isNotExpired one after now.
//
// The clock is Options.Now, read at each Match (once per Matcher), never
// at compile time, so a long-lived compiled query stays right.
//
// # Missing values and type mismatches
//
// Nothing panics. A missing property, a null, or a value whose type the
// operator does not apply to (a number against a string, an array for
// >, a string for between on numbers) fails every positive operator.
// Each negated operator is exactly the complement of its positive one,
// so the same cases pass it:
//
//	operator                               missing / null / mismatch
//	=  >  >=  <  <=                        false
//	in  contains  containsAny              false
//	beginsWith  endsWith  between          false
//	isNotEmpty                             false
//	!=  notIn  doesNotContains             true
//	doesNotBeginsWith  doesNotEndsWith     true
//	notBetween  isEmpty                    true
//	isExpired  isNotExpired                false (both need a date-time)
//
// isNotExpired is not the complement of isExpired: a timer that is not
// set has neither run out nor is it running.
//
// # relatedTo
//
// {"operator": "relatedTo", "blueprint": B, "value": id or [ids],
// "direction": D, "required": R} follows relations transitively through
// a [Graph]. As in Port, the direction is seen from the given entity:
// upstream matches what the given entity depends on (it reaches the
// candidate by following relations: from a service, its team and the
// team's domain); downstream matches what depends on it (the candidate
// reaches it: from a team, its services and their deployments). Without
// a direction either will do, which is the widest reading of "related".
// required true follows only required relations, false only optional
// ones, unset all. Reaching takes at least one relation, so an entity is
// related to itself only through a cycle. Without a graph relatedTo is
// false.
package query
