# Meridian build. One GNU Makefile; dependencies from Debian packages via pkg-config.
#   make            -> build/meridian
#   make run        -> install missing packages, build, start on examples/quickstart.yaml
#   make test       -> install missing packages, build, run unit + integration tests
#   make SAN=address,undefined test   sanitizer build in build/san/
#   make fuzz       -> libFuzzer targets in build/fuzz/ (clang)
#   make bench      -> ../shared/bench/bench.sh against meridian, nginx and HAProxy

CC      ?= cc
PYTHON  := /usr/bin/python3
PKGS    := libfyaml libxxhash openssl libmaxminddb
LLHTTP_DIR := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp

# Debian packages needed to build and test (checked by `make deps`).
DEB_BUILD := gcc make pkg-config libfyaml-dev libxxhash-dev libssl-dev libmaxminddb-dev node-llhttp
DEB_TEST  := python3 python3-pytest curl libmaxmind-db-writer-perl sslscan openssl
DEB_FUZZ  := clang libclang-rt-14-dev

WARN := -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes \
        -Wstrict-prototypes -Wvla -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

ifeq ($(SAN),)
BUILD   := build
OPT     ?= -O2 -g
SANFLAGS :=
else
BUILD   := build/san
OPT     ?= -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=$(SAN) -fno-sanitize-recover=all -DMRD_POOL_MALLOC=1
endif

CPPFLAGS += -D_GNU_SOURCE -DLLHTTP_STRICT_MODE=1 -Isrc -I$(LLHTTP_INC) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   += $(OPT) $(SANFLAGS) -pthread -MMD -MP
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm
LDFLAGS  += $(SANFLAGS)

SRCS      := $(shell find src -name '*.c' | sort)
LIB_SRCS  := $(filter-out src/main.c,$(SRCS))
OBJS      := $(SRCS:%.c=$(BUILD)/%.o)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LLHTTP_OBJS := $(BUILD)/llhttp/llhttp.o $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o
UNIT_SRCS := $(shell find tests/unit -name 'test_*.c' | sort)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)

.PHONY: all deps run test unit integ fuzz bench clean fmt
# Keep the fuzz objects between runs (they are intermediate to make otherwise).
.SECONDARY:
all: $(BUILD)/meridian

$(BUILD)/meridian: $(OBJS) $(LLHTTP_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c -o $@ $<

# llhttp's generated C is compiled in from the node-llhttp package, as shipped.
$(BUILD)/llhttp/%.o: $(LLHTTP_DIR)/%.c Makefile
	@mkdir -p $(@D)
	$(CC) -DLLHTTP_STRICT_MODE=1 -I$(LLHTTP_INC) $(OPT) $(SANFLAGS) -w -c -o $@ $(LLHTTP_DIR)/$*.c

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) $(LLHTTP_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(WARN) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS)

deps:
	@sh tools/deps.sh $(DEB_BUILD) $(DEB_TEST)

run: deps
	@$(MAKE) --no-print-directory all
	@sh tools/quickstart.sh $(BUILD)

unit: $(UNIT_BINS)
	@sh tools/run-unit.sh $(UNIT_BINS)

integ: all
	MERIDIAN_BIN=$(CURDIR)/$(BUILD)/meridian $(PYTHON) -m pytest -q -p no:cacheprovider tests/integ

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integ

fuzz:
	@sh tools/deps.sh $(DEB_BUILD) $(DEB_FUZZ)
	@$(MAKE) --no-print-directory CC=clang SAN= OPT="-O1 -g" build-fuzz

FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=build/fuzz/obj/%.o)
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=build/fuzz/%)
build-fuzz: $(FUZZ_BINS)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	clang $(CPPFLAGS) -O1 -g -fsanitize=fuzzer-no-link,address,undefined -pthread $(WARN) -c -o $@ $<
build/fuzz/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c Makefile
	@mkdir -p $(@D)
	clang -DLLHTTP_STRICT_MODE=1 -I$(LLHTTP_INC) -O1 -g -fsanitize=fuzzer-no-link,address,undefined -w -c -o $@ $(LLHTTP_DIR)/$*.c
build/fuzz/%: fuzz/%.c $(FUZZ_LIB_OBJS) $(LLHTTP_OBJS:$(BUILD)/llhttp/%=build/fuzz/obj/llhttp/%)
	@mkdir -p $(@D)
	clang $(CPPFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -pthread -o $@ $(filter %.c %.o,$^) $(LDLIBS)

bench: all
	@sh tools/bench.sh $(BUILD) $(BENCH_ARGS)

fmt:
	clang-format -i $(SRCS) $(shell find src -name '*.h')

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d)
