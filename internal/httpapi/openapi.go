package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/riposte/riposte/internal/fleet"
)

// OpenAPI builds the OpenAPI 3.0 document of the server's routes. Schemas
// are derived from the Go types the handlers read and write.
func (s *Server) OpenAPI() map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"summary":     rt.doc.summary,
			"operationId": operationID(rt.method, rt.path),
			"tags":        []string{rt.doc.tag},
		}
		var params []map[string]any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, p := range rt.doc.query {
			params = append(params, map[string]any{"name": p.name, "in": "query", "description": p.desc, "schema": map[string]any{"type": p.typ}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.doc.body != nil {
			bt := rt.doc.bodyType
			if bt == "" {
				bt = "application/json"
			}
			op["requestBody"] = map[string]any{"required": true,
				"content": map[string]any{bt: map[string]any{"schema": g.schema(reflect.TypeOf(rt.doc.body))}}}
		}
		status := rt.doc.status
		if status == 0 {
			status = http.StatusOK
		}
		ok := map[string]any{"description": http.StatusText(status)}
		switch {
		case rt.doc.resp != nil:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.doc.resp))}}
		case rt.doc.respType != "":
			ok["content"] = map[string]any{rt.doc.respType: map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		errRef := map[string]any{"application/problem+json": map[string]any{"schema": g.schema(reflect.TypeOf(Error{}))}}
		responses := map[string]any{strconv.Itoa(status): ok}
		if rt.auth != authNone {
			responses["401"] = map[string]any{"description": "missing, invalid or expired token", "content": errRef}
			responses["403"] = map[string]any{"description": "the user's role does not allow this", "content": errRef}
		} else {
			responses["401"] = map[string]any{"description": "invalid credentials", "content": errRef}
		}
		if rt.method != http.MethodGet || rt.doc.query != nil {
			responses["400"] = map[string]any{"description": "invalid request", "content": errRef}
		}
		if rt.doc.body != nil {
			responses["413"] = map[string]any{"description": "body larger than 1 MiB", "content": errRef}
		}
		op["responses"] = responses
		switch rt.auth {
		case authNone:
			op["security"] = []map[string][]string{{"basic": {}}}
		case authLoopbackOrToken:
			op["security"] = []map[string][]string{{}, {"bearer": {}}}
		case authQueryToken:
			op["security"] = []map[string][]string{{"bearer": {}}, {"accessToken": {}}}
		}
		if rt.action != "" {
			op["x-riposte-action"] = string(rt.action)
		}
		if paths[rt.path] == nil {
			paths[rt.path] = map[string]any{}
		}
		paths[rt.path][strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "Riposte API",
			"version": "1",
			"description": "Wazuh-compatible endpoints (POST /security/user/authenticate, PUT /active-response, GET /agents) " +
				"and Riposte's own under /api/v1. Every request but the login needs Authorization: Bearer <token>. " +
				"Roles: readonly (read), operator (read, respond, ingest, allowlist), administrator (all).",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"basic":       map[string]any{"type": "http", "scheme": "basic"},
				"bearer":      map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
				"accessToken": map[string]any{"type": "apiKey", "in": "query", "name": "access_token"},
			},
		},
		"security": []map[string][]string{{"bearer": {}}},
	}
}

var pathParam = regexp.MustCompile(`\{(\w+)\}`)

// operationID names an operation from its method and path:
// "DELETE /api/v1/users/{name}" is deleteApiV1UsersName.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '-' || r == '.' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, r, http.StatusOK, s.OpenAPI())
	return nil
}

// schemaGen derives JSON schemas from Go types, named struct types going
// into components/schemas.
type schemaGen struct {
	defs map[string]any
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
	fleetDurType = reflect.TypeFor[fleet.Duration]()
	rawType      = reflect.TypeFor[json.RawMessage]()
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case durationType:
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	case fleetDurType:
		return map[string]any{"type": "string", "description": "a Go duration (\"10m\") or a number of seconds"}
	case rawType:
		return map[string]any{"type": "object", "additionalProperties": true}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		if t.Name() == "" { // anonymous: inline
			props := map[string]any{}
			g.fields(t, props)
			return map[string]any{"type": "object", "properties": props}
		}
		name := schemaName(t)
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		if _, ok := g.defs[name]; ok {
			return ref
		}
		g.defs[name] = nil // placeholder against recursion
		props := map[string]any{}
		g.fields(t, props)
		g.defs[name] = map[string]any{"type": "object", "properties": props}
		return ref
	}
	return map[string]any{}
}

// fields adds the JSON fields of struct t, with embedded structs inlined.
func (g *schemaGen) fields(t reflect.Type, props map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, props)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
	}
}

// schemaName names a struct type: its package and name, generics
// flattened ("httpapi.page[manager.Active]" is httpapi.page_manager.Active).
func schemaName(t reflect.Type) string {
	n := t.String()
	r := strings.NewReplacer("[", "_", "]", "", "*", "", " ", "", ",", "_")
	n = r.Replace(n)
	// Type arguments carry full import paths; keep their last element.
	parts := strings.Split(n, "_")
	for i, p := range parts {
		if j := strings.LastIndex(p, "/"); j >= 0 {
			parts[i] = p[j+1:]
		}
	}
	return strings.Join(parts, "_")
}
