package kinds

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKinds(t *testing.T) {
	files := map[string]string{
		"python": "requirements.txt", "nodejs": "package.json", "php": "composer.json",
		"java": "pom.xml", "go": "go.mod", "ruby": "Gemfile", "dotnet": "project.json",
	}
	assert.Len(t, Names(), len(files))
	for name, file := range files {
		k, ok := Lookup(name)
		require.True(t, ok, name)
		assert.Equal(t, file, k.File)
		assert.NotEmpty(t, k.Install)
	}
	_, ok := Lookup("cobol")
	assert.False(t, ok)
}

func TestByFile(t *testing.T) {
	for file, want := range map[string]string{
		"requirements.txt": "python", "deploy/samples/requirements.txt": "python", "package.json": "nodejs",
		"composer.json": "php", "pom.xml": "java", "./go.mod": "go", "Gemfile": "ruby", "project.json": "dotnet",
	} {
		k, ok := ByFile(file)
		require.True(t, ok, file)
		assert.Equal(t, want, k.Name, file)
	}
	_, ok := ByFile("deps.txt")
	assert.False(t, ok)
}
