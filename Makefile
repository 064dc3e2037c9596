# ssmbak: point-in-time backup and restore for AWS SSM Parameter Store.
# `make help` lists the targets. Quiet by default; V=1 shows every command.

VERSION := 0.1.0
PREFIX ?= /usr/local
CC ?= gcc
PYTHON := /usr/bin/python3
PYTEST := $(PYTHON) -m pytest

ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2)
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 \
	-Wvla -Wno-unused-parameter
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g $(WARN) \
	-DSSMBAK_VERSION='"$(VERSION)"' -I. -Ilib \
	-DSSMBAK_CACERT_FILE='"build/cacert.pem"'
CFLAGS ?= -O2
# pkg-config runs the first time a dynamic build needs it, not when make
# reads this file: `make demo` and `make static` install or need none of the
# -dev packages it asks about, and must not print "Package ... was not
# found". A missing package shows as the compiler's error instead.
pkg = $(eval $(1) := $$(shell pkg-config $(2) libxml-2.0 jansson libcurl 2>/dev/null))$($(1))
DYN_PKG_CFLAGS = $(call pkg,DYN_PKG_CFLAGS,--cflags)
DYN_PKG_LIBS = $(call pkg,DYN_PKG_LIBS,--libs)
DYN_CFLAGS = $(BASE_CFLAGS) $(DYN_PKG_CFLAGS)
DYN_LIBS = $(DYN_PKG_LIBS) -lssl -lcrypto -lz -lm

DEPS_DIR := build/deps
STATIC_CFLAGS := $(BASE_CFLAGS) -I$(DEPS_DIR)/include -I$(DEPS_DIR)/include/libxml2
STATIC_LIBS := $(DEPS_DIR)/lib/libcurl.a $(DEPS_DIR)/lib/libxml2.a \
	-l:libjansson.a -l:libcares.a -l:libssl.a -l:libcrypto.a -l:libz.a \
	-lpthread -ldl -lm

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

# Everything but main() lives in objects that the unit tests link too.
CMD_SRC := $(wildcard cmd_*.c)
LIB_SRC := sigv4.c $(wildcard lib/*.c)
ASM_SRC := $(wildcard lib/*.S)
CORE_SRC := $(CMD_SRC) $(LIB_SRC)
UNIT_SRC := $(wildcard test/unit/*.c)

obj = $(patsubst %.c,$(1)/%.o,$(patsubst %.S,$(1)/%.o,$(2)))
DYN_OBJ := $(call obj,build/obj,$(CORE_SRC) $(ASM_SRC))
STATIC_OBJ := $(call obj,build/static,$(CORE_SRC) $(ASM_SRC))
SAN_OBJ := $(call obj,build/san,$(CORE_SRC) $(ASM_SRC))

SHELL := /bin/bash
# Objects built through chained rules (fuzz targets) are kept.
.SECONDARY:

.PHONY: soak demo test-live bench valgrind fuzz fuzz-check all static static-check cfnspec-check check unit unit-san e2e localaws-test install uninstall \
	clean distclean help deps

all: ssmbak ## build ./ssmbak, dynamically linked (quick to iterate on)

help: ## list the targets
	@grep -hE '^[a-z][a-z0-9_-]*:.*## ' $(MAKEFILE_LIST) | \
		sed -E 's/^([a-z0-9_-]+):.*## (.*)/  \1\t\2/' | expand -t 16

build/cacert.pem: /etc/ssl/certs/ca-certificates.crt
	@mkdir -p $(@D)
	$(Q)cp $< $@

build/obj/%.o: %.c
	$(call say,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(DYN_CFLAGS) -MMD -MP -c $< -o $@

build/obj/%.o: %.S build/cacert.pem
	$(call say,AS,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) -c $< -o $@

build/static/%.o: %.c $(DEPS_DIR)/.stamp
	$(call say,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(STATIC_CFLAGS) -MMD -MP -c $< -o $@

build/static/%.o: %.S build/cacert.pem
	$(call say,AS,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) -c $< -o $@

build/san/%.o: %.c
	$(call say,CC-SAN,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) -O1 $(DYN_CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@

build/san/%.o: %.S build/cacert.pem
	$(call say,AS,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) -c $< -o $@

# lib/template.S embeds template.yaml with .incbin.
build/obj/lib/template.o build/static/lib/template.o build/san/lib/template.o \
	build/fuzz/lib/template.o: template.yaml

ssmbak: build/obj/ssmbak.o $(DYN_OBJ)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(DYN_LIBS)

$(DEPS_DIR)/.stamp: deps/build-deps.sh
	$(call say,DEPS,"static libcurl + libxml2 (first time: about a minute)")
	$(Q)deps/build-deps.sh $(DEPS_DIR)

deps: $(DEPS_DIR)/.stamp ## build the static libcurl/libxml2 archives

# glibc's linker warnings name resolver calls inside OpenSSL and c-ares that
# ssmbak never makes (curl uses c-ares with numeric ports); test/static/run.sh
# proves it under strace. Quiet builds drop just those lines.
ifeq ($(V),1)
ld_filter :=
else
ld_filter := 2>&1 | grep -v -e 'in statically linked applications requires' -e ': in function' >&2 || true
endif

build/ssmbak-static: build/static/ssmbak.o $(STATIC_OBJ)
	$(call say,LINK,$@)
	$(Q)set -o pipefail; { $(CC) $(CFLAGS) -static -Wl,--gc-sections -o $@ $^ $(STATIC_LIBS) $(ld_filter); }
	$(Q)test -x $@

static: build/ssmbak-static ## build ./ssmbak fully statically linked and stripped (the Lambda binary)
	$(Q)strip -o ssmbak build/ssmbak-static
	@file ssmbak | sed 's/^/  /'

# Runs the static binary alone in an empty chroot: --version, HTTPS to a
# local server verified with SSL_CERT_FILE, refused without the right CA,
# and no glibc name resolution.
static-check: build/ssmbak-static ## prove the static binary needs no file of this machine
	$(Q)strip -o build/ssmbak-static.stripped build/ssmbak-static
	$(Q)SSMBAK_STATIC_PROBE='preview /x now -b bucket-name' \
	SSMBAK_STATIC_PROBE_OK='not a VersioningConfiguration' \
	SSMBAK_STATIC_ENV='AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1 SSMBAK_BUCKET_OWNER=000000000000 AWS_ENDPOINT_URL=@URL@' \
	bash test/static/run.sh build/ssmbak-static.stripped

build/unit: $(call obj,build/obj,$(UNIT_SRC)) $(DYN_OBJ)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(DYN_LIBS)

build/san/unit: $(call obj,build/san,$(UNIT_SRC)) $(SAN_OBJ)
	$(call say,LINK,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(DYN_LIBS)

build/san/ssmbak: build/san/ssmbak.o $(SAN_OBJ)
	$(call say,LINK,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(DYN_LIBS)

unit: build/unit ## run the C unit tests
	$(Q)build/unit

unit-san: build/san/unit ## run the C unit tests under ASan+UBSan
	$(Q)ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/san/unit

# The CloudFormation resource specification (npm @aws-cdk/cfnspec, pinned in
# test/cfnspec/package-lock.json); localaws reads it too.
CFNSPEC := test/cfnspec/node_modules/@aws-cdk/cfnspec/spec/specification.json
$(CFNSPEC): test/cfnspec/package.json test/cfnspec/package-lock.json
	$(call say,NPM,"ci test/cfnspec")
	$(Q)npm ci --prefix test/cfnspec --no-audit --no-fund --loglevel=error >/dev/null
	$(Q)touch $@

cfnspec-check: $(CFNSPEC) ## check template.yaml against the CloudFormation resource specification
	$(Q)node --test --test-reporter=dot test/cfnspec/

localaws-test: $(CFNSPEC) ## run localaws' own tests (boto3 and awscli against it)
	$(Q)$(PYTEST) -q test/localaws/tests

soak: ssmbak build/ssmbak-static $(CFNSPEC) ## the long run: 1,000 changes through the pipeline under faults (counts printed)
	$(Q)SSMBAK_SOAK=1 $(PYTEST) -q -s -p no:cacheprovider test/e2e/test_soak.py

e2e: ssmbak build/san/ssmbak build/ssmbak-static $(CFNSPEC) ## run the end-to-end tests against localaws
	$(Q)$(PYTEST) -q test/e2e

# Two pytest runs: the two suites each have a conftest module of their own.
check: ssmbak build/unit build/san/unit build/san/ssmbak build/sigv4-sign static-check fuzz-check cfnspec-check build/san/whoami ## run every test (the CI's command)
	$(Q)build/unit
	$(Q)ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/san/unit
	$(Q)$(PYTEST) -q -p no:cacheprovider test/localaws/tests
	$(Q)SSMBAK_BIN=build/san/ssmbak SSMBAK_WHOAMI=build/san/whoami ASAN_OPTIONS=detect_leaks=1 \
		$(PYTEST) -q -p no:cacheprovider test/e2e

demo: ## the quickstart for real, against a local AWS (installs what it needs)
	$(Q)deps/install-packages all
	$(Q)$(MAKE) --no-print-directory static $(CFNSPEC)
	$(Q)demo/quickstart

test-live: static ## the quickstart against your real AWS account (opt-in; never in CI)
	$(Q)demo/quickstart --live

bench: static ## measure Lambda start, preview/restore/backfill requests and times (bench/results.json)
	$(Q)$(PYTHON) bench/run.py --binary $(CURDIR)/ssmbak

# The whole e2e suite under valgrind took 29 min here (the sanitizer build
# runs it in 10 in `make check`), more than CI allows beside check:
# `make valgrind VALGRIND_TESTS=test/e2e` runs it. By default, the suites
# that drive every parser and writer path: the Lambda, hostile and bad
# answers, bad input, the request layer, names, versioning and history
# (4.5 min here).
VALGRIND_TESTS ?= $(addprefix test/e2e/,test_backup_lambda.py test_hostile.py \
	test_bad_input.py test_request_layer.py test_single_level_names.py \
	test_versioning.py test_history.py)
valgrind: ssmbak ## run end-to-end tests with ./ssmbak under valgrind memcheck (VALGRIND_TESTS)
	$(Q)SSMBAK_BIN=test/valgrind-ssmbak $(PYTEST) -q -p no:cacheprovider $(VALGRIND_TESTS)

BASHCOMPDIR := $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR := $(PREFIX)/share/zsh/site-functions
MAN1DIR := $(PREFIX)/share/man/man1

# bash-completion loads a command's completion by the command's name, hence
# the links; zsh reads the names from _ssmbak's #compdef line. ssmbak-all is
# backfill: its man page is a .so link to ssmbak-backfill(1).
install: | ssmbak ## install ./ssmbak (as built: make or make static), its aliases, man pages and bash/zsh completion under PREFIX
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MAN1DIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 ssmbak $(DESTDIR)$(PREFIX)/bin/ssmbak
	ln -sf ssmbak $(DESTDIR)$(PREFIX)/bin/ssmbak-all
	ln -sf ssmbak $(DESTDIR)$(PREFIX)/bin/ssmbak-stack
	install -m 0644 man/*.1 $(DESTDIR)$(MAN1DIR)/
	printf '.so man1/ssmbak-backfill.1\n' >$(DESTDIR)$(MAN1DIR)/ssmbak-all.1
	install -m 0644 completions/ssmbak.bash $(DESTDIR)$(BASHCOMPDIR)/ssmbak
	ln -sf ssmbak $(DESTDIR)$(BASHCOMPDIR)/ssmbak-all
	ln -sf ssmbak $(DESTDIR)$(BASHCOMPDIR)/ssmbak-stack
	install -m 0644 completions/_ssmbak $(DESTDIR)$(ZSHCOMPDIR)/_ssmbak

uninstall: ## remove what install put in place
	rm -f $(DESTDIR)$(PREFIX)/bin/ssmbak $(DESTDIR)$(PREFIX)/bin/ssmbak-all \
		$(DESTDIR)$(PREFIX)/bin/ssmbak-stack
	rm -f $(addprefix $(DESTDIR)$(MAN1DIR)/,$(notdir $(wildcard man/*.1)) ssmbak-all.1)
	rm -f $(addprefix $(DESTDIR)$(BASHCOMPDIR)/,ssmbak ssmbak-all ssmbak-stack)
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_ssmbak

clean: ## remove build products (keeps the static dependency archives)
	rm -rf build/obj build/static build/san build/unit build/ssmbak-static ssmbak

distclean: clean ## remove everything built, dependency archives included
	rm -rf build

# libFuzzer targets (clang): every parser of outside input. `make fuzz` runs
# each for FUZZ_SECONDS; `make fuzz-check` (part of check) replays the
# committed seed corpus through each.
FUZZ_CC := clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(basename $(notdir $(wildcard test/fuzz/fuzz_*.c)))
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
FUZZ_LIB_OBJ := $(call obj,build/fuzz,$(LIB_SRC) $(ASM_SRC))

build/fuzz/%.o: %.c
	$(call say,CC-FUZZ,$<)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(DYN_CFLAGS) -MMD -MP -c $< -o $@

build/fuzz/%.o: %.S build/cacert.pem
	$(call say,AS,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) -c $< -o $@

build/fuzz/fuzz_%: build/fuzz/test/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(call say,LINK,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(DYN_LIBS)

fuzz: $(addprefix build/fuzz/,$(FUZZ_TARGETS)) ## run every fuzz target for FUZZ_SECONDS (default 60) each
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus/$$t; \
		echo "  FUZZ    $$t ($(FUZZ_SECONDS) s)"; \
		build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			build/fuzz/corpus/$$t test/fuzz/corpus/$$t 2>&1 | \
			grep -E '^(stat::number_of_executed_units|==|SUMMARY|artifact)' ; \
		test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

fuzz-check: $(addprefix build/fuzz/,$(FUZZ_TARGETS)) ## replay the seed corpus through every fuzz target
	$(Q)for t in $(FUZZ_TARGETS); do \
		build/fuzz/$$t test/fuzz/corpus/$$t/* >build/fuzz/$$t.log 2>&1 || \
			{ cat build/fuzz/$$t.log; echo "fuzz-check: $$t failed"; exit 1; }; \
	done; echo "  FUZZ    $(words $(FUZZ_TARGETS)) targets replayed their corpus"

-include $(shell find build/obj build/static build/san build/fuzz -name "*.d" 2>/dev/null)

# test drivers: small programs the pytest suites run
build/sigv4-sign: build/obj/test/tools/sigv4_sign.o $(DYN_OBJ)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(DYN_LIBS)

# build/whoami: the credential chain as commands resolve it, then STS
# GetCallerIdentity (test/e2e/test_credentials.py; SSMBAK_WHOAMI=build/san/whoami
# runs those tests under ASan/UBSan)
build/whoami: build/obj/test/tools/whoami.o $(DYN_OBJ)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(DYN_LIBS)

build/san/whoami: build/san/test/tools/whoami.o $(SAN_OBJ)
	$(call say,LINK,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(DYN_LIBS)

e2e check: build/whoami
