#include "xml.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

struct xml_doc *xml_parse(const char *data, size_t len)
{
	if (len > (size_t)INT32_MAX)
		return NULL;
	/* No network, no DTD loading, no entity substitution: answers come
	 * from the network and are not trusted. */
	xmlDocPtr doc = xmlReadMemory(data, (int)len, NULL, NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR |
					      XML_PARSE_NOWARNING |
					      XML_PARSE_NOBLANKS);
	/* AWS answers have no document type: one that declares entities is
	 * not an answer, and reading its text would expand them. */
	if (doc && (doc->intSubset || doc->extSubset)) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return (struct xml_doc *)doc;
}

void xml_free(struct xml_doc *doc)
{
	xmlFreeDoc((xmlDocPtr)doc);
}

struct xml_node *xml_root(struct xml_doc *doc)
{
	return doc ? (struct xml_node *)xmlDocGetRootElement((xmlDocPtr)doc)
		   : NULL;
}

static bool name_is(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE &&
	       (!name || strcmp((const char *)n->name, name) == 0);
}

struct xml_node *xml_find(struct xml_node *from, const char *name)
{
	for (xmlNodePtr n = (xmlNodePtr)from; n; n = n->next) {
		if (name_is(n, name))
			return (struct xml_node *)n;
		struct xml_node *below =
			xml_find((struct xml_node *)n->children, name);
		if (below)
			return below;
	}
	return NULL;
}

struct xml_node *xml_child(struct xml_node *parent, const char *name)
{
	if (!parent)
		return NULL;
	for (xmlNodePtr n = ((xmlNodePtr)parent)->children; n; n = n->next)
		if (name_is(n, name))
			return (struct xml_node *)n;
	return NULL;
}

struct xml_node *xml_next(struct xml_node *node, const char *name)
{
	if (!node)
		return NULL;
	for (xmlNodePtr n = ((xmlNodePtr)node)->next; n; n = n->next)
		if (name_is(n, name))
			return (struct xml_node *)n;
	return NULL;
}

const char *xml_name(struct xml_node *node)
{
	return node ? (const char *)((xmlNodePtr)node)->name : NULL;
}

static char *node_text(xmlNodePtr n)
{
	xmlChar *content = xmlNodeGetContent(n);
	if (!content)
		return strdup("");
	char *text = strdup((const char *)content);
	xmlFree(content);
	return text;
}

char *xml_child_text(struct xml_node *parent, const char *name)
{
	struct xml_node *child = xml_child(parent, name);
	return child ? node_text((xmlNodePtr)child) : NULL;
}

void xml_copy_first(struct xml_doc *doc, const char *name, char *dst,
		    size_t size)
{
	struct xml_node *n = xml_find(xml_root(doc), name);
	if (!n)
		return;
	char *text = node_text((xmlNodePtr)n);
	if (text)
		snprintf(dst, size, "%s", text);
	free(text);
}
