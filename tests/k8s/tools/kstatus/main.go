// Command kstatus prints the kstatus verdict (sigs.k8s.io/cli-utils/pkg/kstatus/status:
// Current, InProgress, Failed, Terminating, NotFound, Unknown) of Kubernetes objects, the
// readiness judgement Flux and Argo CD make.
//
// Objects come from YAML or JSON documents (files named with -f, "-" or nothing for stdin;
// multi-document YAML and List objects are split), or, with TYPE/NAME arguments, are read
// from the cluster of a kubeconfig (--kubeconfig, else $KUBECONFIG, else ~/.kube/config).
//
//	kstatus -f objects.yaml
//	kubectl get vm -o json | kstatus
//	kstatus --kubeconfig kc.yaml -n default virtualmachines/web-1 disk/data
//
// One line per object: VERDICT<TAB>APIVERSION KIND NAMESPACE/NAME<TAB>MESSAGE, or with
// -o json one JSON array of {apiVersion, kind, namespace, name, status, message}.
// Exit status 0 when every verdict was computed, 1 on any error (bad input, not found).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// verdict is one object's kstatus result.
type verdict struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Message    string `json:"message"`
}

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var files fileList
	flag.Var(&files, "f", "file with YAML or JSON objects (repeatable; - is stdin)")
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig for TYPE/NAME arguments")
	namespace := flag.String("n", "", "namespace for TYPE/NAME arguments (default: the kubeconfig's)")
	output := flag.String("o", "text", "output format: text or json")
	flag.Parse()

	objs, err := collect(files, flag.Args(), *kubeconfig, *namespace)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
	verdicts := make([]verdict, 0, len(objs))
	for _, obj := range objs {
		res, err := status.Compute(obj)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kstatus: %s %s: %v\n", obj.GetKind(), obj.GetName(), err)
			os.Exit(1)
		}
		verdicts = append(verdicts, verdict{
			APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(),
			Namespace: obj.GetNamespace(), Name: obj.GetName(),
			Status: res.Status.String(), Message: res.Message,
		})
	}
	if err := print(os.Stdout, *output, verdicts); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func print(w io.Writer, format string, verdicts []verdict) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(verdicts)
	case "text":
		for _, v := range verdicts {
			ns := v.Namespace
			if ns != "" {
				ns += "/"
			}
			fmt.Fprintf(w, "%s\t%s %s %s%s\t%s\n", v.Status, v.APIVersion, v.Kind, ns, v.Name, v.Message)
		}
		return nil
	default:
		return fmt.Errorf("unknown output format %q (text or json)", format)
	}
}

// collect reads the objects from the files, or from the cluster when TYPE/NAME arguments are given.
func collect(files, args []string, kubeconfig, namespace string) ([]*unstructured.Unstructured, error) {
	if len(args) > 0 {
		if len(files) > 0 {
			return nil, errors.New("give either -f files or TYPE/NAME arguments, not both")
		}
		return fromCluster(args, kubeconfig, namespace)
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	var out []*unstructured.Unstructured
	for _, name := range files {
		r := io.Reader(os.Stdin)
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			r = f
		}
		objs, err := decode(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// decode splits a YAML or JSON stream into objects, expanding List kinds.
func decode(r io.Reader) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(r), 4096)
	var out []*unstructured.Unstructured
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if trimmed := strings.TrimSpace(string(raw)); trimmed == "" || trimmed == "null" {
			continue
		}
		// The unstructured scheme keeps integers as int64, which kstatus's accessors expect.
		obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, raw)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case *unstructured.Unstructured:
			out = append(out, o)
		case *unstructured.UnstructuredList:
			for i := range o.Items {
				out = append(out, &o.Items[i])
			}
		default:
			return nil, fmt.Errorf("unexpected object %T", obj)
		}
	}
}

// fromCluster gets each TYPE/NAME (TYPE as kubectl takes it: resource, kind or short name,
// optionally .group) through the kubeconfig's cluster.
func fromCluster(args []string, kubeconfig, namespace string) ([]*unstructured.Unstructured, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		if namespace, _, err = cc.Namespace(); err != nil {
			return nil, err
		}
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewShortcutExpander(
		restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)), disco, nil)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, arg := range args {
		typ, name, ok := strings.Cut(arg, "/")
		if !ok || typ == "" || name == "" {
			return nil, fmt.Errorf("%q: want TYPE/NAME", arg)
		}
		mapping, err := resolve(mapper, typ)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arg, err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(mapping.Resource).Namespace(namespace)
		}
		obj, err := ri.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arg, err)
		}
		out = append(out, obj)
	}
	return out, nil
}

// resolve maps a kubectl-style type (resource, singular, kind or short name; optionally
// RESOURCE.GROUP) to its preferred version's REST mapping.
func resolve(mapper meta.RESTMapper, typ string) (*meta.RESTMapping, error) {
	gvr, err := mapper.ResourceFor(schema.ParseGroupResource(typ).WithVersion(""))
	if err != nil {
		return nil, err
	}
	gvk, err := mapper.KindFor(gvr)
	if err != nil {
		return nil, err
	}
	return mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}
