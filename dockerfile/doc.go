// Package dockerfile is the one reading of Dockerfile instructions in the
// tree: BuildKit's parser and instruction types, and how each instruction
// that only sets configuration changes an image config. The builder
// (build/) parses whole Dockerfiles with it; `commit --change` and
// `import --change` parse their single instructions with it. It imports
// nothing of the module, so that image packages may use it without the
// builder.
package dockerfile
