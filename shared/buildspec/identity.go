package buildspec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/apache/openserverless-builder/shared/kinds"
)

// identityFormat versions what the builder makes of the same inputs (the
// Dockerfile's shape): changing it gives every input a new identity, and
// ensure a new image, built again. The kind's install step is hashed
// itself.
const identityFormat = "openserverless-builder/ensure/1"

// Identity is the hash of what is built: the format, the kind and its
// install step with the programs it runs (a mended step is a new image),
// the source's resolved digest (a patched base is a new image) and the
// file. Build secrets are no part of it. ensure names its image by it;
// every build labels its image with it (LabelIdentity), so that send
// finds an image of the same content and reuses it.
func Identity(k kinds.Kind, sourceDigest string, file []byte) string {
	h := sha256.New()
	run := k.Run()
	fmt.Fprintf(h, "%s\n%s\n%d\n%s\n", identityFormat, k.Name, len(run), run)
	// The programs the step runs are part of it.
	programs := k.StepFiles()
	for _, name := range k.StepNames() {
		fmt.Fprintf(h, "%s\n%d\n%s", name, len(programs[name]), programs[name])
	}
	fmt.Fprintf(h, "%s\n%d\n", sourceDigest, len(file))
	h.Write(file)
	return hex.EncodeToString(h.Sum(nil))
}
