package build

import "context"

// Exporter takes a build's result out of the store (--output oci,
// docker, tar, local): the image is then not named and the store keeps
// it only as the build cache.
type Exporter interface {
	// Vertex is the export's name in the progress ("exporting to
	// client directory").
	Vertex() string
	// Export writes image id out; log reports its stages as status
	// lines of the vertex.
	Export(ctx context.Context, id string, log func(format string, a ...any)) error
}
