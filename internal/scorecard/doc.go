// Package scorecard evaluates Port's scorecards: it ranks each entity a
// scorecard applies to on the scorecard's ladder of levels, from the
// rules it passes.
//
// # Semantics
//
// A scorecard applies to an entity when the entity belongs to the
// scorecard's blueprintIdentifier (if set) and matches its filter (if
// set). Both are optional: Port's seed scorecards carry no
// blueprintIdentifier and pin the blueprint with a `$blueprint` rule in
// the filter instead, which works the same way.
//
// The levels are the scorecard's own `levels` when it declares any,
// otherwise the catalog's settings.levels, otherwise
// catalog.DefaultLevels (Basic, Bronze, Silver, Gold), lowest first. The
// first level is the base level: every entity the scorecard applies to
// has at least it. An entity reaches a level when it passes every rule
// of that level and of every lower level, so a failed Bronze rule keeps
// it at Basic even when it passes every Gold rule. A level without rules
// is reached as soon as every lower level is; a rule of the base level
// cannot take an entity below it but, failed, keeps it there. Every rule
// is evaluated, whatever the level reached, so that each rule's status
// can be reported.
//
// Rules and filters are queries of package query, compiled once. A rule
// whose level is not one of the scorecard's levels is a compile error
// naming the rule and the level.
//
// # Scorecards that refer to scorecards
//
// A rule or filter may read another scorecard's level of the same
// entity through `$scorecard.<id>.level`. A [Set] evaluates the
// scorecards of a catalog in dependency order and feeds each level it
// computes into query.Entity.Scorecards for the scorecards after it;
// levels compare by rank on the referenced scorecard's own ladder. A
// dependency cycle, including a scorecard reading its own level, is a
// *[CycleError] naming the cycle. A reference to a scorecard that is not
// in the set is not an error: it reads whatever the caller put in
// query.Entity.Scorecards, and is missing otherwise, as in any query.
//
// # Evaluation at reconcile time
//
// [Set.EvaluateAll] evaluates every entity at one instant against one
// graph; [Set.EvaluateOnly] re-evaluates the entities whose inputs
// changed and updates earlier [Results] in place; [Set.Summary] counts
// entities per level and passes and failures per rule, the body of
// `GET /v1/scorecards/{id}`. [Scorecard.Relational] and
// [Scorecard.Clocked] tell the caller when an entity's result can change
// without the entity changing: through a relatedTo rule (the graph) or
// through the clock.
package scorecard
