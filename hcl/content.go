package hcl

import (
	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// bodyContent is body.Content(schema), without hcl's bookkeeping when the body
// fits the schema: every argument known, every required one there, every block
// of a known type with its labels. hclsyntax's Content builds three maps and a
// body of what remains for every block it decodes, most of the allocations of
// decoding a large configuration; a body that fits has nothing to report, and
// its content is the same arguments and blocks (in the body's order) taken
// directly. Anything else goes to hcl, for its diagnostics.
func bodyContent(body hcl2.Body, schema *hcl2.BodySchema) (*hcl2.BodyContent, hcl2.Diagnostics) {
	b, ok := body.(*hclsyntax.Body)
	if !ok || !fitsSchema(b, schema) {
		return body.Content(schema)
	}
	content := &hcl2.BodyContent{
		Attributes:       make(hcl2.Attributes, len(b.Attributes)),
		MissingItemRange: b.MissingItemRange(),
	}
	for name, attr := range b.Attributes {
		content.Attributes[name] = attr.AsHCLAttribute()
	}
	if len(b.Blocks) > 0 {
		content.Blocks = make(hcl2.Blocks, len(b.Blocks))
		for i, blk := range b.Blocks {
			content.Blocks[i] = blk.AsHCLBlock()
		}
	}
	return content, nil
}

// fitsSchema says whether Content(schema) of b has no diagnostics and takes
// every argument and block of b.
func fitsSchema(b *hclsyntax.Body, schema *hcl2.BodySchema) bool {
	present := 0
	for _, as := range schema.Attributes {
		if _, ok := b.Attributes[as.Name]; ok {
			present++
		} else if as.Required {
			return false
		}
	}
	if present != len(b.Attributes) {
		return false // an argument the schema does not know
	}
blocks:
	for _, blk := range b.Blocks {
		for _, bs := range schema.Blocks {
			if bs.Type == blk.Type {
				if len(blk.Labels) != len(bs.LabelNames) {
					return false
				}
				continue blocks
			}
		}
		return false
	}
	return true
}
