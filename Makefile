# urial — build, test, demo. See README.md and docs/.
#   make                 build/urial, build/liburial.a and build/liburial.so (python/urial loads it)
#   make test            every test; last line "N passed, N failed"
#   make test SANITIZE=1 the same suite under ASan + UBSan (build in build/san)
#   make fuzz            libFuzzer target for the GGUF reader (clang), FUZZ_SECONDS=600
#   make fuzz-jinja      the same for the Jinja interpreter (chat templates)
#   make fuzz-model      a parsed GGUF on into the model loader, the tokenizer and the chat template
#   make fuzz-data       the JSON/JSONL readers: datasets, results, outputs, conversations
#   make fuzz-api        urial serve: the API handlers, and raw HTTP to a server on loopback
#   make demo            the bundled demo models: URIAL vs the SFT twin on 3 questions, then TDS
#   make demo-models     rebuild models/*.gguf from scratch (corpus, tokenizer, pretraining, SFT; ~45 min)
#   make demo-eval       the model card's figures (style over 50 held-out prompts, TDS)
#   make demo-study      urial study on the demo pair: methods, offline judge, TDS, one report
#   make bench           speed against llama.cpp (see docs/bench.md)
#   make install         PREFIX=/usr/local (DESTDIR too): bin/urial, lib/liburial.a, include/urial/*.h,
#                        lib/pkgconfig/urial.pc, share/urial/ (the demo models and data); make uninstall

CC      ?= cc
SANITIZE ?=
ifeq ($(SANITIZE),1)
  BUILD  ?= build/san
  OPT    ?= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN  = -fsanitize=address,undefined
else
  BUILD  ?= build
  OPT    ?= -O2 -g
  LDSAN  =
endif

CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc -pthread $(OPT)
LDLIBS  += -pthread -lcurl -ljansson -lmicrohttpd -lm $(LDSAN)
# (libmicrohttpd: urial serve, and the tests' replay judge)
TEST_LDLIBS =

LIB_SRC  := $(sort $(wildcard src/*/*.c))
LIB_SRC  := $(filter-out src/cli/%,$(LIB_SRC))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# The built-in URIAL prompts (data/urial/*.txt), judge templates (data/eval/*.txt) and
# the TDS report's CSS and JS (data/tds/) and the server's chat page (data/serve/) are compiled in: tools/embed.sh turns them
# into C arrays, so the binary needs no data files at run time.
EMBED_SRC := $(sort $(wildcard data/urial/*.txt data/eval/*.txt data/tds/* data/serve/*))
EMBED_OBJ := $(BUILD)/gen/embed.o
LIB_OBJ  += $(EMBED_OBJ)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
# urial --version: the VERSION file, plus the commit when built from a git checkout. main.o is
# rebuilt when that string changes (the stamp is rewritten only then).
GIT     ?= git
URIAL_VERSION := $(shell cat VERSION)
GIT_DESC := $(shell $(GIT) describe --always --dirty 2>/dev/null)
ifneq ($(GIT_DESC),)
  URIAL_VERSION := $(URIAL_VERSION) (git $(GIT_DESC))
endif
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test fuzz fuzz-jinja fuzz-model fuzz-data fuzz-api fuzz-seeds demo demo-models demo-eval demo-study bench clean install uninstall
all: $(BUILD)/urial $(BUILD)/liburial.a $(BUILD)/liburial.so

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The shared library's objects: the same sources with -fPIC, kept apart so that -fPIC (which
# stops gcc from inlining functions other modules could interpose) never changes the binary's
# code, its speed or its last bits.
$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(BUILD)/version.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(URIAL_VERSION)' | cmp -s - $@ || echo '$(URIAL_VERSION)' >$@
$(BUILD)/obj/src/cli/main.o: $(BUILD)/version.stamp
$(BUILD)/obj/src/cli/main.o: CFLAGS += -DURIAL_VERSION='"$(URIAL_VERSION)"'
FORCE:

# The training ops are loops over rows that gcc vectorises only with its full cost model.
$(BUILD)/obj/src/train/%.o: CFLAGS += -fvect-cost-model=dynamic
$(BUILD)/pic/src/train/%.o: CFLAGS += -fvect-cost-model=dynamic

$(BUILD)/gen/embed.c: $(EMBED_SRC) tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh $@ $(EMBED_SRC)

$(EMBED_OBJ): $(BUILD)/gen/embed.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/pic/gen/embed.o: $(BUILD)/gen/embed.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@

$(BUILD)/liburial.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# the shared library for bindings (include/urial/capi.h; python/urial)
PIC_OBJ := $(LIB_SRC:%.c=$(BUILD)/pic/%.o) $(BUILD)/pic/gen/embed.o
$(BUILD)/liburial.so: $(PIC_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/urial: $(CLI_OBJ) $(BUILD)/liburial.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/liburial.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/harness.h tests/unit/replay.h tests/unit/ref_logits.h $(BUILD)/liburial.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-format-truncation -Itests/unit -o $@ $< $(BUILD)/liburial.a $(LDLIBS) $(TEST_LDLIBS)

# the replay judge as a program, for the CLI tests (tests/cli/test_eval.sh)
$(BUILD)/tests/replay_judge: tests/judge/replay_judge.c tests/unit/replay.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LDLIBS) $(TEST_LDLIBS)

# the Jinja interpreter as a program, for the reference test against @huggingface/jinja (tests/cli/test_chat_ref.sh)
$(BUILD)/tests/jinja_render: tests/jinja/render.c $(BUILD)/liburial.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/liburial.a $(LDLIBS) $(TEST_LDLIBS)

test: all $(TEST_BIN) $(BUILD)/tests/replay_judge $(BUILD)/tests/jinja_render
	@BUILD=$(BUILD) tests/run.sh

# ---- fuzzing (clang + libFuzzer + ASan) -------------------------------------
FUZZ_SECONDS ?= 600
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=all
fuzz: build/fuzz/fuzz_gguf
	@mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build/fuzz/corpus tests/fuzz/seeds

build/fuzz/fuzz_gguf: tests/fuzz/fuzz_gguf.c src/gguf/*.c src/gguf/*.h src/base/*.c src/tensor/types.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -pthread -o $@ $(filter %.c,$^) -ljansson -lm

# the Jinja interpreter (seeds: the built-in templates' reference texts)
fuzz-jinja: build/fuzz/fuzz_jinja
	@mkdir -p build/fuzz/corpus-jinja
	build/fuzz/fuzz_jinja -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 -rss_limit_mb=2048 build/fuzz/corpus-jinja tests/jinja/builtin

build/fuzz/fuzz_jinja: tests/fuzz/fuzz_jinja.c src/chat/jinja*.c src/chat/jinja*.h src/base/*.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -pthread -o $@ $(filter %.c,$^) -ljansson -lm

# The whole library built for libFuzzer (ASan + UBSan, coverage), for the targets past the reader.
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o) build/fuzz/obj/embed.o
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(subst -fsanitize=fuzzer,-fsanitize=fuzzer-no-link,$(FUZZ_CFLAGS)) -pthread -c $< -o $@
build/fuzz/obj/embed.o: $(BUILD)/gen/embed.c
	@mkdir -p $(dir $@)
	clang $(subst -fsanitize=fuzzer,-fsanitize=fuzzer-no-link,$(FUZZ_CFLAGS)) -c $< -o $@
build/fuzz/liburial.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/liburial.a
	clang $(FUZZ_CFLAGS) -pthread -o $@ $< build/fuzz/liburial.a -lcurl -ljansson -lmicrohttpd -lm

fuzz-model: build/fuzz/fuzz_model
	@mkdir -p build/fuzz/corpus-model
	build/fuzz/fuzz_model -max_total_time=$(FUZZ_SECONDS) -max_len=262144 -timeout=20 -rss_limit_mb=2048 \
	    build/fuzz/corpus-model tests/fuzz/seeds-model tests/fuzz/seeds

fuzz-data: build/fuzz/fuzz_data
	@mkdir -p build/fuzz/corpus-data
	build/fuzz/fuzz_data -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
	    build/fuzz/corpus-data tests/fuzz/seeds-data tests/fuzz/regress

fuzz-api: build/fuzz/fuzz_api
	@mkdir -p build/fuzz/corpus-api
	build/fuzz/fuzz_api -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=20 -rss_limit_mb=2048 \
	    build/fuzz/corpus-api tests/fuzz/seeds-api tests/fuzz/regress

# Rewrite the fuzz seeds with our own writer (they are committed; rerun after format changes).
fuzz-seeds: $(BUILD)/liburial.a
	@mkdir -p $(BUILD)/fuzz tests/fuzz/seeds
	$(CC) $(CFLAGS) -o $(BUILD)/fuzz/make_seeds tests/fuzz/make_seeds.c $(BUILD)/liburial.a $(LDLIBS)
	$(BUILD)/fuzz/make_seeds tests/fuzz/seeds

# make demo on a fresh machine: install the build's Debian packages first (tools/deps.sh)
demo:
	@tools/deps.sh build
	@$(MAKE) --no-print-directory all
	@tools/demo.sh $(BUILD)

demo-models: all
	@tools/demo_models.sh $(BUILD)

demo-eval: all
	@tools/demo_eval.sh $(BUILD)

demo-study: all
	@tools/demo_study.sh $(BUILD)

bench: all
	@bench/run.sh

# matmul kernel benchmark (not part of `make test`): build/bench_matmul --help; see bench/KERNELS.md
$(BUILD)/bench_matmul: bench/bench_matmul.c $(BUILD)/liburial.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/liburial.a $(LDLIBS)

clean:
	rm -rf build

# ---- install ------------------------------------------------------------------------------
PREFIX  ?= /usr/local
DESTDIR ?=
I_BIN   = $(DESTDIR)$(PREFIX)/bin
I_LIB   = $(DESTDIR)$(PREFIX)/lib
I_INC   = $(DESTDIR)$(PREFIX)/include/urial
I_SHARE = $(DESTDIR)$(PREFIX)/share/urial
HEADERS := $(sort $(wildcard include/urial/*.h))
DEMO_FILES := models/urial-demo-base.gguf models/urial-demo-chat.gguf models/MODEL_CARD.md $(wildcard data/demo/*)
install: all
	install -d $(I_BIN) $(I_LIB)/pkgconfig $(I_INC) $(I_SHARE)/models $(I_SHARE)/data/demo
	install -m 755 $(BUILD)/urial $(I_BIN)/urial
	install -m 644 $(BUILD)/liburial.a $(I_LIB)/liburial.a
	install -m 644 $(HEADERS) $(I_INC)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(shell cat VERSION)|' tools/urial.pc.in >$(I_LIB)/pkgconfig/urial.pc
	install -m 644 $(filter models/%,$(DEMO_FILES)) $(I_SHARE)/models/
	install -m 644 $(filter data/%,$(DEMO_FILES)) $(I_SHARE)/data/demo/

uninstall:
	rm -f $(I_BIN)/urial $(I_LIB)/liburial.a $(I_LIB)/pkgconfig/urial.pc $(addprefix $(I_INC)/,$(notdir $(HEADERS)))
	rm -f $(addprefix $(I_SHARE)/models/,$(notdir $(filter models/%,$(DEMO_FILES))))
	rm -f $(addprefix $(I_SHARE)/data/demo/,$(notdir $(filter data/%,$(DEMO_FILES))))
	-rmdir $(I_INC) $(I_SHARE)/models $(I_SHARE)/data/demo $(I_SHARE)/data $(I_SHARE) 2>/dev/null

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(PIC_OBJ:.o=.d)

# training throughput benchmark (not part of `make test`): bench/train.sh compares it with PyTorch
$(BUILD)/bench_train: bench/bench_train.c $(BUILD)/liburial.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/liburial.a $(LDLIBS)

# tokenizer speed (not part of `make test`): bench/tokenize.sh compares it with llama.cpp's tokenizer
$(BUILD)/bench_tokenize: bench/bench_tokenize.c $(BUILD)/liburial.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/liburial.a $(LDLIBS)

# retrieval ICL speed (not part of `make test`): bench/retrieve.sh, bench/RETRIEVE.md
$(BUILD)/bench_retrieve: bench/bench_retrieve.c $(BUILD)/liburial.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/liburial.a $(LDLIBS)
