# SPDX-License-Identifier: GPL-2.0
# dm-vss top-level Makefile.
#
# Driven by the files present, so adding a source file needs no edit here:
#   libvsscore/*.c       the library: build/lib/libvsscore.so.1 (symbol
#                        versions from libvsscore/libvsscore.sym if present)
#                        and build/lib/libvsscore.a for the unit tests
#   cli/vss-*.c          one command each: build/bin/vss-*, linked with
#   cli/*.c (other)      the shared command helpers and libvsscore
#   test/unit/test-*.c   one cmocka test each: build/test/test-*, linked with
#   test/unit/*.c (other)  the unit-test helpers, the cli helpers and
#                        libvsscore.a.  A line `/* test-ldflags: ... */` in
#                        a test adds link flags for it (-Wl,--wrap=...).
#   dm-vss/ (Kbuild)     the kernel module dm-vss/dm-vss.ko
#
# Targets: all (default: library, commands, module), lib, commands, module,
# tests (unit test binaries), check (scripts/run-tests), install, uninstall,
# dkms-install, clean, distclean, help.  `make V=1` shows the commands.
#
# A fresh clone needs no ./configure: the first `make` runs autoconf and
# ./configure with default options.

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

NO_CONFIG_GOALS := clean distclean help
ifneq ($(filter-out $(NO_CONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
include config.mk
endif

configure: configure.ac
	autoconf
	@rm -rf autom4te.cache

config.status: configure
	@if [ -x config.status ]; then ./config.status --recheck; \
	else ./configure $(CONFIGURE_FLAGS); fi

config.mk: config.mk.in config.status
	./config.status

ifeq ($(V),1)
Q :=
msg = @:
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2);
endif

B := build
DESTDIR ?=

WARN_CFLAGS := -Wall -Wextra
ALL_CFLAGS = $(WARN_CFLAGS) $(CFLAGS) $(SANITIZE_FLAGS) \
	-Ilibvsscore -Icli -Idm-vss \
	-DVSS_VERSION='"$(VERSION)"' \
	$(DEVMAPPER_CFLAGS) $(BLKID_CFLAGS) $(JSON_C_CFLAGS) $(POPT_CFLAGS) \
	$(CPPFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANITIZE_FLAGS) -Wl,--as-needed
LIBS = $(DEVMAPPER_LIBS) $(BLKID_LIBS) $(JSON_C_LIBS) $(POPT_LIBS)

LIB_SRCS := $(sort $(wildcard libvsscore/*.c))
LIB_SYMS := $(wildcard libvsscore/libvsscore.sym)
LIB_HEADERS := $(sort $(wildcard libvsscore/libvsscore*.h))
LIB_PC_IN := $(wildcard libvsscore/libvsscore.pc.in)
CMD_SRCS := $(sort $(wildcard cli/vss-*.c))
CLI_HELPER_SRCS := $(filter-out cli/vss-%.c,$(sort $(wildcard cli/*.c)))
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
UNIT_SRCS := $(sort $(wildcard test/unit/test-*.c))
UNIT_HELPER_SRCS := $(filter-out test/unit/test-%.c,$(sort $(wildcard test/unit/*.c)))
# man/*.[1-8] are the sources: each includes (.so) man/include/*.man, the
# parts written once; build/man/ holds them expanded, which is installed.
MAN_SRCS := $(sort $(wildcard man/*.[1-8]))
MAN_INCLUDES := $(wildcard man/include/*.man)
MAN_PAGES := $(patsubst man/%,$(B)/man/%,$(MAN_SRCS))
COMPLETION := $(wildcard scripts/bash-completion/vss)
SYSTEMD_UNITS := $(sort $(wildcard scripts/systemd/*.service scripts/systemd/*.timer))
MODULE_SRCS := $(wildcard dm-vss/*.c dm-vss/*.h dm-vss/Kbuild)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
LIB_OBJS := $(call obj,$(LIB_SRCS))
CLI_HELPER_OBJS := $(call obj,$(CLI_HELPER_SRCS))
UNIT_HELPER_OBJS := $(call obj,$(UNIT_HELPER_SRCS))
CMDS := $(patsubst cli/%.c,$(B)/bin/%,$(CMD_SRCS))
INST_CMDS := $(patsubst cli/%.c,$(B)/inst/%,$(CMD_SRCS))
UNIT_TESTS := $(patsubst test/unit/%.c,$(B)/test/%,$(UNIT_SRCS))
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(EXAMPLE_SRCS))

ifneq ($(LIB_SRCS),)
SHLIB := $(B)/lib/libvsscore.so.1
STLIB := $(B)/lib/libvsscore.a
LIB_LINK := -L$(B)/lib -lvsscore
endif
ifneq ($(LIB_PC_IN),)
PC_FILE := $(B)/lib/libvsscore.pc
endif

.PHONY: all lib commands examples man module tests check warnings install uninstall \
	install-lib install-commands install-headers install-man \
	install-completion install-systemd install-conf uninstall-completion uninstall-systemd \
	uninstall-conf \
	install-module uninstall-module dkms-install clean distclean help module-faults

all: lib commands examples man $(if $(KDIR),module)

lib: $(SHLIB) $(STLIB) $(PC_FILE)

commands: $(CMDS)

# --- compiling -----------------------------------------------------------
# Each object's compiler messages are also kept in <object>.warn, so that
# `make warnings` (and scripts/run-tests) can report them without a rebuild.

$(B)/obj/libvsscore/%.o: libvsscore/%.c config.mk
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@ 2> $@.warn; \
		rc=$$?; cat $@.warn >&2; exit $$rc

$(B)/obj/test/unit/%.o: test/unit/%.c config.mk
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Itest/unit -c $< -o $@ 2> $@.warn; \
		rc=$$?; cat $@.warn >&2; exit $$rc

$(B)/obj/%.o: %.c config.mk
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@ 2> $@.warn; \
		rc=$$?; cat $@.warn >&2; exit $$rc

-include $(wildcard $(B)/obj/*/*.d $(B)/obj/*/*/*.d)

warnings:
	@for f in $(addsuffix .warn,$(LIB_OBJS) $(CLI_HELPER_OBJS) \
		$(call obj,$(CMD_SRCS) $(UNIT_SRCS) $(UNIT_HELPER_SRCS))); do \
		[ -s $$f ] && cat $$f; done; true

# --- library ---------------------------------------------------------------

$(SHLIB): $(LIB_OBJS) $(LIB_SYMS)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -shared -Wl,-soname,libvsscore.so.1 \
		$(if $(LIB_SYMS),-Wl$(comma)--version-script=$(LIB_SYMS)) \
		-o $@ $(LIB_OBJS) $(LIBS)
	@ln -sf libvsscore.so.1 $(B)/lib/libvsscore.so

$(STLIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# Variables a libvsscore.pc.in may use: @prefix@ @exec_prefix@ @libdir@
# @includedir@ @VERSION@ (also spelt @PACKAGE_VERSION@).
$(PC_FILE): $(LIB_PC_IN) config.mk
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)sed -e 's|@prefix@|$(prefix)|g' -e 's|@exec_prefix@|$(exec_prefix)|g' \
		-e 's|@libdir@|$(libdir)|g' -e 's|@includedir@|$(includedir)|g' \
		-e 's|@VERSION@|$(VERSION)|g' -e 's|@PACKAGE_VERSION@|$(VERSION)|g' \
		$< > $@

# --- commands ----------------------------------------------------------------
# build/bin/ commands find build/lib/ through their RUNPATH, so they run from
# the tree; `make install` links build/inst/ copies without it.

comma := ,
$(B)/bin/%: $(B)/obj/cli/%.o $(CLI_HELPER_OBJS) $(SHLIB)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(CLI_HELPER_OBJS) $(LIB_LINK) $(LIBS) \
		$(if $(SHLIB),'-Wl$(comma)-rpath$(comma)$$ORIGIN/../lib')

$(B)/inst/%: $(B)/obj/cli/%.o $(CLI_HELPER_OBJS) $(SHLIB)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(CLI_HELPER_OBJS) $(LIB_LINK) $(LIBS)

# --- examples ----------------------------------------------------------------
# examples/*.c: small programs over the public headers only, as a user of
# the installed library writes them (build/examples/, run by the tests).

examples: $(EXAMPLES)

man: $(MAN_PAGES)

$(B)/man/%: man/% $(MAN_INCLUDES)
	$(call msg,MAN,$@)
	@mkdir -p $(@D)
	$(Q)soelim -r -I man $< > $@.tmp && mv $@.tmp $@

$(B)/examples/%: examples/%.c $(SHLIB) $(LIB_HEADERS) config.mk
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(WARN_CFLAGS) $(CFLAGS) $(SANITIZE_FLAGS) -Ilibvsscore -o $@ $< \
		$(ALL_LDFLAGS) $(LIB_LINK) '-Wl$(comma)-rpath$(comma)$$ORIGIN/../lib'

# --- unit tests ------------------------------------------------------------

tests: $(UNIT_TESTS) $(if $(KDIR),module-faults)

ifeq ($(HAVE_CMOCKA),yes)
$(B)/test/%: $(B)/obj/test/unit/%.o $(UNIT_HELPER_OBJS) $(CLI_HELPER_OBJS) $(STLIB)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(UNIT_HELPER_OBJS) $(CLI_HELPER_OBJS) \
		$(STLIB) $(LIBS) $(CMOCKA_LIBS) \
		$$(sed -n 's|^.*/\* *test-ldflags: *\(.*[^ ]\) *\*/.*$$|\1|p' test/unit/$*.c)
else
$(B)/test/%:
	@echo "make: the unit tests need cmocka: apt-get install libcmocka-dev, then ./configure" >&2; exit 1
endif

check:
	scripts/run-tests

# --- kernel module -----------------------------------------------------------

KBUILD = $(MAKE) -C $(KDIR) M=$(CURDIR)/dm-vss W=1

module: dm-vss/dm-vss.ko

dm-vss/dm-vss.ko: $(MODULE_SRCS) config.mk
	@[ -n "$(KDIR)" ] || { echo "make: configured --without-kernel: no module" >&2; exit 1; }
	+$(KBUILD) modules

# The same module built with VSS_FAULT_INJECT for the tests that make its
# allocations fail (test/target/cow-pressure.bats); never installed.
FAULTS_DIR := $(CURDIR)/$(B)/dm-vss-faults

module-faults: $(B)/dm-vss-faults/dm-vss.ko

$(B)/dm-vss-faults/dm-vss.ko: $(MODULE_SRCS) config.mk
	@[ -n "$(KDIR)" ] || { echo "make: configured --without-kernel: no module" >&2; exit 1; }
	@mkdir -p $(FAULTS_DIR)
	cp dm-vss/*.c dm-vss/*.h $(FAULTS_DIR)/
	{ cat dm-vss/Kbuild; echo 'ccflags-y += -DVSS_FAULT_INJECT'; } > $(FAULTS_DIR)/Kbuild
	+$(MAKE) -C $(KDIR) M=$(FAULTS_DIR) W=1 modules

# --- install -------------------------------------------------------------------

install: install-lib install-headers install-commands install-man \
	install-completion install-systemd install-conf $(if $(KDIR),install-module)

install-lib: lib
ifneq ($(SHLIB),)
	$(INSTALL) -d $(DESTDIR)$(libdir)
	$(INSTALL) -m 755 $(SHLIB) $(DESTDIR)$(libdir)/libvsscore.so.1
	ln -sf libvsscore.so.1 $(DESTDIR)$(libdir)/libvsscore.so
	$(if $(DESTDIR),,-ldconfig)
endif
ifneq ($(PC_FILE),)
	$(INSTALL) -d $(DESTDIR)$(libdir)/pkgconfig
	$(INSTALL) -m 644 $(PC_FILE) $(DESTDIR)$(libdir)/pkgconfig/libvsscore.pc
endif

install-headers:
ifneq ($(LIB_HEADERS),)
	$(INSTALL) -d $(DESTDIR)$(includedir)
	$(INSTALL) -m 644 $(LIB_HEADERS) $(DESTDIR)$(includedir)/
endif

install-commands: $(INST_CMDS)
ifneq ($(INST_CMDS),)
	$(INSTALL) -d $(DESTDIR)$(sbindir)
	$(INSTALL) -m 755 $(INST_CMDS) $(DESTDIR)$(sbindir)/
endif

install-man: man
	@for page in $(MAN_PAGES); do \
		sec=$${page##*.}; \
		echo "$(INSTALL) -D -m 644 $$page $(DESTDIR)$(mandir)/man$$sec/$${page##*/}"; \
		$(INSTALL) -D -m 644 $$page $(DESTDIR)$(mandir)/man$$sec/$${page##*/} || exit 1; \
	done

# bash completion: one file, loaded by bash-completion under each
# command's name (a symlink per command); systemd units: every
# scripts/systemd/*.service and *.timer.
completionsdir ?= $(datadir)/bash-completion/completions
systemdunitdir ?= $(prefix)/lib/systemd/system

install-completion:
ifneq ($(COMPLETION),)
	$(INSTALL) -D -m 644 $(COMPLETION) $(DESTDIR)$(completionsdir)/vss
	@for cmd in $(notdir $(CMDS)); do \
		echo "ln -sf vss $(DESTDIR)$(completionsdir)/$$cmd"; \
		ln -sf vss $(DESTDIR)$(completionsdir)/$$cmd || exit 1; \
	done
endif

install-systemd:
	@for unit in $(SYSTEMD_UNITS); do \
		echo "$(INSTALL) -D -m 644 $$unit $(DESTDIR)$(systemdunitdir)/$${unit##*/}"; \
		$(INSTALL) -D -m 644 $$unit $(DESTDIR)$(systemdunitdir)/$${unit##*/} || exit 1; \
	done

# /etc/vss, where the library looks (VSS_CONF_DIR overrides it at run time):
# the directories of writers, hooks and providers, and a commented
# vss.conf, never replacing one that is there.
VSS_CONF_DIR_INSTALL = /etc/vss

install-conf:
	$(INSTALL) -d -m 755 $(DESTDIR)$(VSS_CONF_DIR_INSTALL)/writers.d \
		$(DESTDIR)$(VSS_CONF_DIR_INSTALL)/hooks.d $(DESTDIR)$(VSS_CONF_DIR_INSTALL)/providers.d
	@if [ -e $(DESTDIR)$(VSS_CONF_DIR_INSTALL)/vss.conf ]; then \
		echo "$(DESTDIR)$(VSS_CONF_DIR_INSTALL)/vss.conf exists: kept"; \
	else \
		echo "$(INSTALL) -m 644 scripts/conf/vss.conf $(DESTDIR)$(VSS_CONF_DIR_INSTALL)/vss.conf"; \
		$(INSTALL) -m 644 scripts/conf/vss.conf $(DESTDIR)$(VSS_CONF_DIR_INSTALL)/vss.conf; \
	fi

# uninstall removes vss.conf only as installed (an edited one is kept),
# and the directories only when empty.
uninstall-conf:
	@c=$(DESTDIR)$(VSS_CONF_DIR_INSTALL); \
	if [ -e $$c/vss.conf ] && ! cmp -s scripts/conf/vss.conf $$c/vss.conf; then \
		echo "$$c/vss.conf was edited: kept"; \
	else \
		echo "rm -f $$c/vss.conf"; rm -f $$c/vss.conf; \
	fi; \
	rmdir $$c/writers.d $$c/hooks.d $$c/providers.d $$c 2>/dev/null || true

MODDIR = /lib/modules/$(KVER)/updates

install-module: module
	$(INSTALL) -D -m 644 dm-vss/dm-vss.ko $(DESTDIR)$(MODDIR)/dm-vss.ko
	@if [ -z "$(DESTDIR)" ]; then echo "depmod -a $(KVER)"; depmod -a $(KVER); \
	else echo "DESTDIR set: run 'depmod -a $(KVER)' on the target system"; fi

uninstall: $(if $(KVER),uninstall-module) uninstall-completion uninstall-systemd uninstall-conf
	rm -f $(addprefix $(DESTDIR)$(sbindir)/,$(notdir $(CMDS)))
	rm -f $(DESTDIR)$(libdir)/libvsscore.so.1 $(DESTDIR)$(libdir)/libvsscore.so
	rm -f $(DESTDIR)$(libdir)/pkgconfig/libvsscore.pc
	rm -f $(addprefix $(DESTDIR)$(includedir)/,$(notdir $(LIB_HEADERS)))
	@for page in $(MAN_PAGES); do \
		echo "rm -f $(DESTDIR)$(mandir)/man$${page##*.}/$${page##*/}"; \
		rm -f $(DESTDIR)$(mandir)/man$${page##*.}/$${page##*/}; \
	done
	$(if $(DESTDIR),,-ldconfig)

uninstall-completion:
	rm -f $(DESTDIR)$(completionsdir)/vss \
		$(addprefix $(DESTDIR)$(completionsdir)/,$(notdir $(CMDS)))

uninstall-systemd:
	@for unit in $(SYSTEMD_UNITS); do \
		echo "rm -f $(DESTDIR)$(systemdunitdir)/$${unit##*/}"; \
		rm -f $(DESTDIR)$(systemdunitdir)/$${unit##*/}; \
	done

uninstall-module:
	rm -f $(DESTDIR)$(MODDIR)/dm-vss.ko
	@if [ -z "$(DESTDIR)" ] && [ -d /lib/modules/$(KVER) ]; then \
		echo "depmod -a $(KVER)"; depmod -a $(KVER); fi

# DKMS: the module's sources go to /usr/src/dm-vss-<version>, and DKMS
# rebuilds them for every kernel installed later.
DKMS_SRC = /usr/src/dm-vss-$(VERSION)

dkms-install:
	$(INSTALL) -d $(DESTDIR)$(DKMS_SRC)
	$(INSTALL) -m 644 dm-vss/Kbuild dm-vss/dkms.conf $(wildcard dm-vss/*.c dm-vss/*.h) \
		$(DESTDIR)$(DKMS_SRC)/
	@if [ -z "$(DESTDIR)" ]; then \
		echo "dkms install dm-vss/$(VERSION)"; dkms install dm-vss/$(VERSION); \
	else echo "DESTDIR set: run 'dkms install dm-vss/$(VERSION)' on the target system"; fi

# --- cleaning ------------------------------------------------------------------

clean:
	rm -rf $(B)/obj $(B)/bin $(B)/inst $(B)/lib $(B)/test $(B)/module-check $(B)/dm-vss-faults
	rm -f dm-vss/*.o dm-vss/*.ko dm-vss/*.mod dm-vss/*.mod.c dm-vss/.*.cmd \
		dm-vss/Module.symvers dm-vss/modules.order
	rm -rf dm-vss/.tmp_versions

distclean: clean
	rm -rf $(B) configure config.status config.log config.mk autom4te.cache

help:
	@sed -n '2,/^$$/s/^# \{0,1\}//p' Makefile
