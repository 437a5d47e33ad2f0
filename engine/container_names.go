package engine

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"regexp"
)

// validName is Docker's rule for container names: a letter or digit,
// then one or more letters, digits, '_', '.' or '-'.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// CheckContainerName says whether name may name a container (a leading
// "/" is accepted and dropped, as Docker shows names with one).
func CheckContainerName(name string) (string, error) {
	if len(name) > 0 && name[0] == '/' {
		name = name[1:]
	}
	if len(name) > 253 || !validName.MatchString(name) {
		return "", fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-]+ are allowed", name)
	}
	return name, nil
}

// NewContainerID is a random 64-hex id that is not all digits (Docker's
// rule, so that a short id is never read as a number).
func NewContainerID() (string, error) {
	b := make([]byte, 32)
	for {
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("container id: %w", err)
		}
		id := hex.EncodeToString(b)
		for _, c := range id[:12] {
			if c > '9' {
				return id, nil
			}
		}
	}
}

// Our own word lists (adjective_noun, as Docker's random names look).
var (
	nameLeft = []string{"able", "bold", "brave", "calm", "clever", "eager", "fair", "gentle", "happy",
		"keen", "kind", "lively", "lucid", "merry", "nimble", "proud", "quick", "quiet", "sharp",
		"steady", "swift", "tidy", "vivid", "warm", "wise", "witty", "zen"}
	nameRight = []string{"anchor", "barge", "beacon", "buoy", "cove", "dock", "ferry", "harbor",
		"hull", "jetty", "keel", "lagoon", "mast", "mooring", "oar", "pier", "quay", "rudder",
		"sail", "skiff", "tide", "wharf", "yacht"}
)

// RandomContainerName is an adjective_noun name; with retry > 0 a digit
// is appended, as Docker does after a collision.
func RandomContainerName(retry int) string {
	pick := func(l []string) string {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(l))))
		if err != nil {
			return l[0]
		}
		return l[n.Int64()]
	}
	name := pick(nameLeft) + "_" + pick(nameRight)
	if retry > 0 {
		n, _ := rand.Int(rand.Reader, big.NewInt(10))
		name += n.String()
	}
	return name
}
