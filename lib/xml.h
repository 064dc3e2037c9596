/* Reading AWS's XML answers with libxml2: parse without network access or
 * entity expansion, then pick elements by local name. */
#ifndef SSMBAK_XML_H
#define SSMBAK_XML_H

#include <stddef.h>

struct xml_doc;
struct xml_node;

/* NULL when data is not well-formed XML, or has a document type
 * declaration (AWS's answers never do). */
struct xml_doc *xml_parse(const char *data, size_t len);
void xml_free(struct xml_doc *doc);
struct xml_node *xml_root(struct xml_doc *doc);
/* First element with this local name anywhere under the root (depth
 * first); NULL if none. */
struct xml_node *xml_find(struct xml_node *from, const char *name);
/* Children elements, in order: first child element with this name (NULL
 * name: any), then the next sibling element with the same rule. */
struct xml_node *xml_child(struct xml_node *parent, const char *name);
struct xml_node *xml_next(struct xml_node *node, const char *name);
const char *xml_name(struct xml_node *node);
/* Text of the named child element; NULL when absent. The returned string
 * is owned by the caller (free()). */
char *xml_child_text(struct xml_node *parent, const char *name);
/* Copies the text of the first element with this name in the document,
 * truncated to size; leaves dst unchanged when absent. */
void xml_copy_first(struct xml_doc *doc, const char *name, char *dst,
		    size_t size);

#endif
