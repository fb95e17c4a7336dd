package slim

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// FromLabel is the label a slim image carries: the id of the image it was
// made from.
const FromLabel = "io.podprof.slim.from"

// Config returns the slim image's config: the original's, field for field
// (entrypoint, command, environment, user, working directory, labels,
// ports, volumes, stop signal, healthcheck, and any field podprof does not
// know), except its one layer, its history, which says how podprof made it,
// and FromLabel. The creation time stays the original's, so that the same
// inputs give the same image id.
func Config(original []byte, fromID string, layer WrittenLayer, comment, createdBy string) ([]byte, error) {
	var config map[string]json.RawMessage
	if err := json.Unmarshal(original, &config); err != nil {
		return nil, fmt.Errorf("reading the image's config: %w", err)
	}
	var runConfig map[string]json.RawMessage
	if raw, ok := config["config"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &runConfig); err != nil {
			return nil, fmt.Errorf("reading the image's config: %w", err)
		}
	}
	if runConfig == nil {
		runConfig = make(map[string]json.RawMessage)
	}
	var labels map[string]string
	if raw, ok := runConfig["Labels"]; ok {
		if err := json.Unmarshal(raw, &labels); err != nil {
			return nil, fmt.Errorf("reading the image's labels: %w", err)
		}
	}
	if labels == nil {
		labels = make(map[string]string)
	}
	labels[FromLabel] = fromID

	history := map[string]any{
		"created_by": createdBy,
		"comment":    comment,
	}
	if created, ok := config["created"]; ok {
		history["created"] = created
	}
	set := func(m map[string]json.RawMessage, key string, v any) {
		m[key], _ = json.Marshal(v) // maps of strings and raw JSON: cannot fail
	}
	set(runConfig, "Labels", labels)
	set(config, "config", runConfig)
	set(config, "rootfs", map[string]any{"type": "layers", "diff_ids": []string{layer.DiffID}})
	set(config, "history", []any{history})
	return json.Marshal(config)
}

// ImageID is the id podman gives an image of this config.
func ImageID(config []byte) string {
	sum := sha256.Sum256(config)
	return hex.EncodeToString(sum[:])
}

// WriteDockerArchive writes a docker-archive (`podman save` format) of one
// image: config, its one layer (size bytes read from layer) and the
// manifest naming it tag, which `podman load` reads.
func WriteDockerArchive(w io.Writer, config []byte, layer io.Reader, size int64, tag string) error {
	id := ImageID(config)
	layerName := id + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   id + ".json",
		"RepoTags": []string{tag},
		"Layers":   []string{layerName},
	}})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	add := func(name string, size int64, contents io.Reader) error {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := io.CopyN(tw, contents, size)
		return err
	}
	if err := add(id+".json", int64(len(config)), bytes.NewReader(config)); err != nil {
		return fmt.Errorf("writing the image archive: %w", err)
	}
	if err := add(layerName, size, layer); err != nil {
		return fmt.Errorf("writing the image archive: %w", err)
	}
	if err := add("manifest.json", int64(len(manifest)), bytes.NewReader(manifest)); err != nil {
		return fmt.Errorf("writing the image archive: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing the image archive: %w", err)
	}
	return nil
}
