package localstack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"time"
)

// MavenRepository is a Maven repository on 127.0.0.1 that stands in for
// Maven Central: it serves what the java stand-in's own build fetched
// from Debian's packages (Tools.MavenRepository: Maven's dependency
// plugin and what it needs), and artifacts made here. A user's pom.xml
// names it as its central repository, for dependencies and plugins.
type MavenRepository struct {
	// URL is the repository's root, for <repository><url>.
	URL string
	srv *httptest.Server
	Gate
}

// MavenArtifact is a jar, Group:Artifact:Version, holding one class,
// Class (a binary name, as "osb/greeting/Hello"), whose public static
// method Method returns Returns; and its pom, which needs nothing.
type MavenArtifact struct {
	Group, Artifact, Version string
	Class, Method, Returns   string
}

// StartMavenRepository serves base (a gzipped tar of a Maven repository)
// and artifacts until Close; the versions of an artifact are given in
// order, the latest last. Each file's SHA-1 is served beside it, as
// Maven checks.
func StartMavenRepository(base string, artifacts ...MavenArtifact) (*MavenRepository, error) {
	files, err := readTarGz(base)
	if err != nil {
		return nil, fmt.Errorf("reading the Maven repository %s (run `make tools`): %w", base, err)
	}
	// Each artifact's metadata lists every version served, in order, the
	// last the latest: what Maven reads to resolve a version range.
	versions := map[string][]string{}
	for _, a := range artifacts {
		jar, err := a.jar()
		if err != nil {
			return nil, fmt.Errorf("making the jar of %s: %w", a.Artifact, err)
		}
		dir := strings.ReplaceAll(a.Group, ".", "/") + "/" + a.Artifact
		stem := dir + "/" + a.Version + "/" + a.Artifact + "-" + a.Version
		files[stem+".jar"] = jar
		files[stem+".pom"] = fmt.Appendf(nil, "<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  <modelVersion>4.0.0</modelVersion>\n"+
			"  <groupId>%s</groupId>\n  <artifactId>%s</artifactId>\n  <version>%s</version>\n</project>\n", a.Group, a.Artifact, a.Version)
		versions[dir] = append(versions[dir], a.Version)
		listed := "<version>" + strings.Join(versions[dir], "</version><version>") + "</version>"
		files[dir+"/maven-metadata.xml"] = fmt.Appendf(nil, "<metadata><groupId>%s</groupId><artifactId>%s</artifactId>"+
			"<versioning><latest>%s</latest><release>%[3]s</release><versions>%s</versions></versioning></metadata>\n",
			a.Group, a.Artifact, a.Version, listed)
	}
	repo := &MavenRepository{}
	repo.srv = httptest.NewServer(repo.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		data, ok := files[name]
		if !ok {
			orig, isSum := strings.CutSuffix(name, ".sha1")
			if data, ok = files[orig]; !ok || !isSum {
				http.NotFound(w, r)
				return
			}
			sum := sha1.Sum(data) // the checksum Maven checks a download against
			data = []byte(hex.EncodeToString(sum[:]))
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	})))
	repo.URL = repo.srv.URL + "/"
	return repo, nil
}

// Close stops the repository.
func (m *MavenRepository) Close() { m.srv.Close() }

// readTarGz returns the regular files of a gzipped tar, by path.
func readTarGz(file string) (map[string][]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files[strings.TrimPrefix(path.Clean(h.Name), "./")] = data
	}
}

// jar is the artifact's jar: a manifest and its one class (name order
// puts the manifest first, where jar readers look for it).
func (a MavenArtifact) jar() ([]byte, error) {
	return zipOf(map[string]string{
		"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nCreated-By: osb-localstack\r\n\r\n",
		a.Class + ".class":     string(staticStringClass(a.Class, a.Method, a.Returns)),
	})
}

// staticStringClass is the class file (Java 8's format, which every JDK
// since loads) of a public class, name, with one method,
// `public static String <method>()`, returning value: no JDK is needed to
// make a dependency for the tests. Names and value are ASCII, which the
// class file's modified UTF-8 leaves as is.
func staticStringClass(name, method, value string) []byte {
	var b bytes.Buffer
	u1 := func(v byte) { b.WriteByte(v) }
	u2 := func(v int) { _ = binary.Write(&b, binary.BigEndian, uint16(v)) }
	u4 := func(v int) { _ = binary.Write(&b, binary.BigEndian, uint32(v)) }
	utf8 := func(s string) { u1(1); u2(len(s)); b.WriteString(s) }

	u4(0xCAFEBABE)
	u2(0)  // minor version
	u2(52) // major version: Java 8
	// The constant pool, from index 1.
	u2(10)
	utf8(name)                   // 1
	u1(7)                        // 2: Class
	u2(1)                        //    named by 1
	utf8("java/lang/Object")     // 3
	u1(7)                        // 4: Class
	u2(3)                        //    named by 3
	utf8(method)                 // 5
	utf8("()Ljava/lang/String;") // 6
	utf8("Code")                 // 7
	utf8(value)                  // 8
	u1(8)                        // 9: String
	u2(8)                        //    of 8

	u2(0x0021) // public, super
	u2(2)      // this class
	u2(4)      // its super class
	u2(0)      // interfaces
	u2(0)      // fields
	u2(1)      // methods
	u2(0x0009) // public static
	u2(5)      // its name
	u2(6)      // its descriptor
	u2(1)      // one attribute: Code
	u2(7)
	code := []byte{0x12, 9, 0xB0} // ldc #9; areturn
	u4(2 + 2 + 4 + len(code) + 2 + 2)
	u2(1) // max stack
	u2(0) // max locals
	u4(len(code))
	b.Write(code)
	u2(0) // exception table
	u2(0) // attributes of the code
	u2(0) // attributes of the class
	return b.Bytes()
}
