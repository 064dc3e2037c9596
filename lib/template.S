/* template.yaml (the ssmbak stack) embedded at build time, as lib/cacert.S
 * embeds the CA bundle: cmd_stack.c sends it as CreateStack's TemplateBody,
 * so the binary deploys exactly the template it was built with.
 *
 * The path is relative to the directory the assembler runs in (the
 * repository root); the Makefile makes this object depend on the file. */
#ifndef SSMBAK_TEMPLATE_FILE
#define SSMBAK_TEMPLATE_FILE "template.yaml"
#endif

	.section .rodata
	.balign 16
	.globl ssmbak_template_start
	.globl ssmbak_template_end
	/* Hidden: referenced from our own objects only (see lib/cacert.S). */
	.hidden ssmbak_template_start
	.hidden ssmbak_template_end
	.type ssmbak_template_start, @object
	.type ssmbak_template_end, @object
ssmbak_template_start:
	.incbin SSMBAK_TEMPLATE_FILE
ssmbak_template_end:
	/* A NUL after the end (not counted) so the template is a C string. */
	.byte 0
	.size ssmbak_template_start, ssmbak_template_end - ssmbak_template_start
	.size ssmbak_template_end, 1

/* No executable stack (see lib/cacert.S). */
	.section .note.GNU-stack,"",@progbits
