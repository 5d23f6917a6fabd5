package main

import (
	"fmt"
	"io"
	"strings"
)

const completionUsage = `usage: pier completion bash|zsh|fish

Prints a shell completion script for pier's commands, get's kinds and
the context names of the config file. Load it with, for bash,
  source <(pier completion bash)
for zsh,
  source <(pier completion zsh)
and for fish,
  pier completion fish | source
`

// completionWords is what each position completes to; kept beside the
// dispatch in main.go's run so a new command is one line here.
var completionWords = map[string][]string{
	"":           {"validate", "diff", "serve", "run", "login", "context", "get", "describe", "runs", "approve", "decline", "status", "receive", "migrate", "schema", "completion", "version", "help"},
	"get":        {"blueprints", "entities", "runs", "scorecards", "actions"},
	"describe":   {"entity"},
	"runs":       {"show", "logs"},
	"context":    {"list", "use", "current"},
	"schema":     {"vendor"},
	"completion": {"bash", "zsh", "fish"},
}

func runCompletion(args []string, stdout, stderr io.Writer) int {
	c := newCommand("completion", completionUsage, stdout, stderr)
	if code := c.parse(args); code >= 0 {
		return code
	}
	if len(c.args) != 1 {
		return c.usageError("want one shell: bash, zsh or fish")
	}
	switch c.args[0] {
	case "bash":
		fmt.Fprint(stdout, bashCompletion())
	case "zsh":
		fmt.Fprint(stdout, "autoload -U +X bashcompinit && bashcompinit\n"+bashCompletion())
	case "fish":
		fmt.Fprint(stdout, fishCompletion())
	default:
		return c.usageError("unknown shell %q: want bash, zsh or fish", c.args[0])
	}
	return 0
}

func bashCompletion() string {
	var b strings.Builder
	b.WriteString(`# pier completion for bash (and zsh through bashcompinit)
_pier() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} words=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    words="` + strings.Join(completionWords[""], " ") + `"
  elif [ "$COMP_CWORD" -eq 2 ]; then
    case "$cmd" in
`)
	for _, cmd := range []string{"get", "describe", "runs", "context", "schema", "completion"} {
		fmt.Fprintf(&b, "      %s) words=%q ;;\n", cmd, strings.Join(completionWords[cmd], " "))
	}
	b.WriteString(`    esac
  elif [ "$cmd" = context ] && [ "${COMP_WORDS[2]}" = use ]; then
    words=$(pier context 2>/dev/null | awk 'NR>1 {print ($1=="*") ? $2 : $1}')
  fi
  case "$cur" in
    -*) words="--help --server --context -o" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _pier pier
`)
	return b.String()
}

func fishCompletion() string {
	var b strings.Builder
	b.WriteString("# pier completion for fish\ncomplete -c pier -f\n")
	fmt.Fprintf(&b, "complete -c pier -n __fish_use_subcommand -a %q\n", strings.Join(completionWords[""], " "))
	for _, cmd := range []string{"get", "describe", "runs", "context", "schema", "completion"} {
		fmt.Fprintf(&b, "complete -c pier -n '__fish_seen_subcommand_from %s' -a %q\n", cmd, strings.Join(completionWords[cmd], " "))
	}
	b.WriteString("complete -c pier -l server -d \"pier's URL\"\ncomplete -c pier -l context -d 'a context of the config file'\ncomplete -c pier -s o -d 'output format' -a 'table wide json yaml'\n")
	return b.String()
}
