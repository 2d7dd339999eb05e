// Package params reads action parameters as they really arrive: `ops -p n 3`
// and web query strings send numbers and booleans as strings, JSON bodies send
// them as numbers and booleans. An empty string counts as absent, because the
// manifest binds unset environment variables as "".
package params

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/openserverless-builder/shared/apperr"
)

// Params are an activation's merged parameters (package < action < request).
type Params map[string]any

// Has reports whether key is present with a non-empty value.
func (p Params) Has(key string) bool {
	v, ok := p[key]
	if !ok || v == nil {
		return false
	}
	if s, isString := v.(string); isString && s == "" {
		return false
	}
	return true
}

// String returns the text of key, or def when absent. Numbers and booleans are
// accepted and returned as their JSON text; objects and arrays are 400.
func (p Params) String(key, def string) (string, error) {
	if !p.Has(key) {
		return def, nil
	}
	switch v := p[key].(type) {
	case string:
		return v, nil
	case bool, float64, int, int64, json.Number:
		return fmt.Sprint(v), nil
	default:
		return "", apperr.BadRequest("parameter %q must be a string", key)
	}
}

// Int returns key as an integer, or def when absent.
func (p Params) Int(key string, def int) (int, error) {
	if !p.Has(key) {
		return def, nil
	}
	f, err := p.number(key)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		return 0, apperr.BadRequest("parameter %q must be a whole number", key)
	}
	return int(f), nil
}

// Float returns key as a number, or def when absent.
func (p Params) Float(key string, def float64) (float64, error) {
	if !p.Has(key) {
		return def, nil
	}
	return p.number(key)
}

func (p Params) number(key string) (float64, error) {
	switch v := p[key].(type) {
	case float64:
		return v, nil
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case json.Number:
		f, err := v.Float64()
		if err == nil {
			return f, nil
		}
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
	}
	return 0, apperr.BadRequest("parameter %q must be a number, got %s", key, describe(p[key]))
}

// Bool returns key as a boolean, or def when absent. Strings true/false,
// yes/no, on/off and 1/0 are accepted, in any case.
func (p Params) Bool(key string, def bool) (bool, error) {
	if !p.Has(key) {
		return def, nil
	}
	switch v := p[key].(type) {
	case bool:
		return v, nil
	case float64:
		if v == 0 || v == 1 {
			return v == 1, nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "yes", "on", "1":
			return true, nil
		case "false", "no", "off", "0":
			return false, nil
		}
	}
	return false, apperr.BadRequest("parameter %q must be true or false, got %s", key, describe(p[key]))
}

// Strings returns key as an object of strings, or nil when absent. A JSON
// body and `-p key '{...}'` send an object; a web query string sends its
// JSON text, accepted too. Its values are never echoed: they may be
// secret.
func (p Params) Strings(key string) (map[string]string, error) {
	if !p.Has(key) {
		return nil, nil
	}
	v := p[key]
	if text, ok := v.(string); ok {
		var obj map[string]any
		if err := json.Unmarshal([]byte(text), &obj); err != nil || obj == nil {
			return nil, apperr.BadRequest("parameter %q must be an object of names to strings", key)
		}
		v = obj
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, apperr.BadRequest("parameter %q must be an object of names to strings, got %s", key, describe(v))
	}
	out := make(map[string]string, len(obj))
	for k, x := range obj {
		s, ok := x.(string)
		if !ok {
			return nil, apperr.BadRequest("parameter %q: the value of %s must be a string", key, Name(k))
		}
		out[k] = s
	}
	return out, nil
}

// simpleName is what a name must look like to be echoed in a message.
var simpleName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,40}$`)

// Name quotes an object key of a request for a message, when it looks
// like a name: a value pasted where a name goes is not echoed.
func Name(k string) string {
	if simpleName.MatchString(k) {
		return strconv.Quote(k)
	}
	return "a name that is not one"
}

// describe names a bad value briefly, without echoing long or odd input.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 || strings.ContainsAny(x, "\r\n") {
			return "a string that is not one"
		}
		return strconv.Quote(x)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return fmt.Sprintf("%v", x)
	}
}
