package config

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// SecretPrefix begins the environment variables that hold the catalog's
// secrets: a template's .secrets.NAME is PIER_SECRET_NAME, and an
// outbound webhook's secretEnv must be one of them. No option is read
// from there (every option's variable is PIER_<OPTION>, and none is named
// secret-*), so a catalog author, who chooses where deliveries go, cannot
// have pier sign them with its own credentials — the webhook secret
// GitHub signs pushes with, the GitHub token, a client secret.
const SecretPrefix = "PIER_SECRET_"

// EnvOption returns the option pier serve reads from the environment
// variable env, if any.
func EnvOption(env string) (string, bool) {
	if env == "GITHUB_TOKEN" {
		return "github-token", true
	}
	found := ""
	(&Config{}).FlagSet(io.Discard).VisitAll(func(f *flag.Flag) {
		if envName(f.Name) == env {
			found = f.Name
		}
	})
	return found, found != ""
}

// CheckSecretEnv checks the variable a catalog names as the secret of
// the outbound webhook sub (its secretEnv; "" signs nothing), and says
// what to write instead.
func CheckSecretEnv(env, sub string) error {
	if env == "" || strings.HasPrefix(env, SecretPrefix) && len(env) > len(SecretPrefix) {
		return nil
	}
	instead := fmt.Sprintf("write secretEnv: %q and set that variable where pier runs", SecretPrefix+envSuffix(sub))
	if opt, ok := EnvOption(env); ok {
		return fmt.Errorf("%q is pier serve's --%s: whoever receives these deliveries would hold it. A subscription signs with a secret of its own, a %s* variable: %s",
			env, opt, SecretPrefix, instead)
	}
	return fmt.Errorf("%q is not a %s* variable, where the catalog's secrets are kept (the rest of pier's environment is not the catalog's to send): %s",
		env, SecretPrefix, instead)
}

// envSuffix turns an identifier into the end of a variable name:
// platform-events becomes PLATFORM_EVENTS.
func envSuffix(id string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, id)
}
