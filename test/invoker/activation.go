package invoker

import (
	"fmt"

	builderconfig "github.com/apache/openserverless-builder/shared/config"
)

// FullName is the action name the runtime passes for action in package
// builder of namespace nuvolaris.
func FullName(action string) string { return "/nuvolaris/builder/" + action }

// Web is a web activation of action by user (none: "") with method: the
// parameters plus the __ow_* fields OpenWhisk adds. Web activations run in
// the action's namespace.
func Web(action, user, method string, p map[string]any) Activation {
	v := Merge(p, map[string]any{"__ow_method": method, "__ow_headers": map[string]any{"accept": "application/json"}, "__ow_path": ""})
	if user != "" {
		v["__ow_user"] = user
	}
	return Activation{Value: v, Namespace: "nuvolaris", ActionName: FullName(action), ActivationID: "web", APIKey: "uuid:s3cr3t-key"}
}

// Plain is a plain invocation of action from namespace ns.
func Plain(action, ns string, p map[string]any) Activation {
	return Activation{Value: Merge(p), Namespace: ns, ActionName: FullName(action), ActivationID: "plain", APIKey: "uuid:s3cr3t-key"}
}

// Merge returns the union of ms, later ones winning, as OpenWhisk merges
// package, action and request parameters.
func Merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// Response splits a web action's result into status and JSON body.
func Response(res map[string]any) (int, map[string]any, error) {
	code, ok := res["statusCode"].(float64)
	if !ok {
		return 0, nil, fmt.Errorf("not an HTTP response: %v", res)
	}
	body, ok := res["body"].(map[string]any)
	if !ok {
		return 0, nil, fmt.Errorf("the body is not a JSON object: %v", res)
	}
	return int(code), body, nil
}

// Deployment is what manifest.yaml binds to every action: each package
// parameter, "" (the default) unless config sets it.
func Deployment(config map[string]any) map[string]any {
	out := map[string]any{}
	for _, name := range builderconfig.ParamNames() {
		out[name] = ""
	}
	return Merge(out, config)
}
