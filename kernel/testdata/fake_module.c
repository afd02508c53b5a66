/* A hand-written stand-in for a compiled Wasm module, to boot the kernel without the
 * compiler. Build one variant with -DVARIANT=n (see run.sh):
 *   0 hello (fd_write to stdout/stderr, args, an unresolved import answering ENOSYS,
 *     a global, memory.grow)  -> exit 0
 *   1 proc_exit(7)           2 hako_trap(unreachable)     3 out-of-bounds load
 *   4 stack overflow          5 data segment out of bounds 6 unresolved import that traps
 *   7 null-pointer write in the kernel's own space (panic)
 */
#include <stdint.h>

typedef struct { const void *ptr; uint64_t len; } Slice;
typedef struct { uint32_t op, pad; uint64_t imm[2]; } ConstOp;
typedef struct { Slice params, results; } FuncType;
typedef struct { uint32_t elem_type, pad; uint64_t min, max; } TableType;
typedef struct { uint64_t min_pages, max_pages; uint32_t memory64, shared; } MemoryType;
typedef struct { uint32_t val_type, mutable_; } GlobalType;
typedef struct { Slice module, name; uint32_t kind, type_index; const void *linked;
                 TableType table; MemoryType memory; GlobalType global; } Import;
typedef struct { const void *code, *array_call; uint32_t type_index, pad; } FunctionDesc;
typedef struct { GlobalType ty; Slice init; } GlobalDesc;
typedef struct { Slice name; uint32_t kind, index; } Export;
typedef struct { uint32_t mode, memory; Slice offset; Slice bytes; } DataSegment;
typedef struct { uint32_t mode, table, elem_type, pad; Slice offset; Slice items; } ElementSegment;
typedef struct { uint32_t abi_version, start; Slice types, imports, functions, tables, memories,
                 globals, exports, data, elements, name; } ModuleDescriptor;

typedef struct { uint8_t *base; uint64_t size; } MemoryDef;
typedef struct { const void *code, *array_call; void *vmctx; uint32_t type_id, pad; } FuncRef;
typedef struct { uint8_t b[16]; } __attribute__((aligned(16))) ValRaw;
typedef struct { MemoryDef *memory0; void *memories, *tables; ValRaw **globals; FuncRef *funcs;
                 uint32_t *type_ids; void *instance; } VmContext;

#define S(a) { (a), sizeof(a) / sizeof((a)[0]) }
#define STR(s) { (s), sizeof(s) - 1 }

extern int32_t wasi_snapshot_preview1__fd_write(VmContext *, int32_t, int32_t, int32_t, int32_t);
extern int32_t wasi_snapshot_preview1__args_sizes_get(VmContext *, int32_t, int32_t);
extern int32_t wasi_snapshot_preview1__args_get(VmContext *, int32_t, int32_t);
extern void wasi_snapshot_preview1__proc_exit(VmContext *, int32_t) __attribute__((noreturn));
extern void hako_trap(VmContext *, uint32_t) __attribute__((noreturn));
extern uint64_t hako_memory_grow(VmContext *, uint32_t, uint64_t);

#ifndef VARIANT
#define VARIANT 0
#endif

static const uint8_t I32 = 0x7f;
static const uint8_t p4[] = {0x7f, 0x7f, 0x7f, 0x7f};
static const uint8_t p2[] = {0x7f, 0x7f};
static const FuncType types[] = {
    { {p4, 4}, {&I32, 1} },   /* 0: fd_write */
    { {p4, 1}, {0, 0} },      /* 1: proc_exit */
    { {0, 0}, {&I32, 1} },    /* 2: () -> i32 (env.foo) */
    { {0, 0}, {0, 0} },       /* 3: _start */
    { {p2, 2}, {&I32, 1} },   /* 4: args_* */
};

static const Import imports[] = {
    { STR("wasi_snapshot_preview1"), STR("fd_write"), 0, 0, (const void *)wasi_snapshot_preview1__fd_write },
    { STR("wasi_snapshot_preview1"), STR("proc_exit"), 0, 1, (const void *)wasi_snapshot_preview1__proc_exit },
    { STR("env"), STR("foo"), 0, 2, 0 },
    { STR("env"), STR("bar"), 0, 3, 0 },
    /* not linked by the "compiler": the kernel resolves it by name */
    { STR("wasi_snapshot_preview1"), STR("args_sizes_get"), 0, 4, 0 },
};

static uint8_t *mem(VmContext *vm) { return vm->memory0->base; }
static void put32(VmContext *vm, uint32_t at, uint32_t v) { *(uint32_t *)(mem(vm) + at) = v; }
static uint32_t get32(VmContext *vm, uint32_t at) { return *(uint32_t *)(mem(vm) + at); }

static void print(VmContext *vm, int fd, uint32_t ptr, uint32_t len) {
    put32(vm, 0, ptr);
    put32(vm, 4, len);
    wasi_snapshot_preview1__fd_write(vm, fd, 0, 1, 8);
}

static void print_num(VmContext *vm, int fd, uint64_t n) {
    char buf[24];
    int i = 23;
    buf[i] = '\n';
    do { buf[--i] = '0' + n % 10; n /= 10; } while (n);
    for (int j = i; j < 24; j++) mem(vm)[1024 + j - i] = buf[j];
    print(vm, fd, 1024, 24 - i);
}

static volatile int depth;
__attribute__((noinline)) static int recurse(VmContext *vm, int n) {
    volatile char pad[256];
    pad[0] = (char)n;
    depth++;
    return recurse(vm, n + 1) + pad[0];
}

static void start(VmContext *vm) {
#if VARIANT == 0
    /* compiled Wasm uses SSE4.2/AVX: they must be enabled */
    __asm__ volatile("vxorps %%ymm0, %%ymm0, %%ymm0\n\tcrc32b %%al, %%eax" ::: "xmm0", "eax");
    print(vm, 1, 16, 17);                       /* "Hello from hako!\n" */
    print(vm, 2, 48, 12);                       /* "to stderr..\n" */
    typedef int32_t (*foo_t)(void *);
    FuncRef *foo = &vm->funcs[2];
    int32_t r = ((foo_t)foo->code)(foo->vmctx);
    r += ((foo_t)foo->code)(foo->vmctx);        /* ENOSYS twice, recorded once */
    print_num(vm, 1, (uint64_t)r);              /* 104 */
    print_num(vm, 1, *(uint32_t *)vm->globals[0]);   /* 42 */
    uint64_t old = hako_memory_grow(vm, 0, 2);
    print_num(vm, 1, old);                      /* 1 */
    mem(vm)[3 * 65536 - 1] = 1;                 /* now mapped */
    print_num(vm, 1, vm->memory0->size / 65536);   /* 3 */
    print_num(vm, 1, hako_memory_grow(vm, 0, 100) + 1);   /* 0: beyond max 4 */
    /* argv via an import the kernel linked itself */
    typedef int32_t (*args_t)(void *, int32_t, int32_t);
    FuncRef *as = &vm->funcs[4];
    ((args_t)as->code)(as->vmctx, 100, 104);
    uint32_t argc = get32(vm, 100), size = get32(vm, 104);
    wasi_snapshot_preview1__args_get(vm, 200, 300);
    for (uint32_t i = 0; i < argc; i++) {
        uint32_t p = get32(vm, 200 + 4 * i), n = 0;
        while (mem(vm)[p + n]) n++;
        mem(vm)[p + n] = '\n';
        print(vm, 1, p, n + 1);
    }
    (void)size;
#elif VARIANT == 1
    print(vm, 1, 16, 17);
    wasi_snapshot_preview1__proc_exit(vm, 7);
#elif VARIANT == 2
    hako_trap(vm, 0);
#elif VARIANT == 3
    volatile uint8_t x = mem(vm)[65536 + 5];
    (void)x;
#elif VARIANT == 4
    recurse(vm, 0);
#elif VARIANT == 6
    typedef void (*bar_t)(void *);
    FuncRef *bar = &vm->funcs[3];
    ((bar_t)bar->code)(bar->vmctx);
#elif VARIANT == 7
    *(volatile uint64_t *)(uintptr_t)0x7000000000ull = 1;
#endif
}

static void start_tramp(VmContext *vm, ValRaw *values) { (void)values; start(vm); }

static const FunctionDesc functions[] = { { (const void *)start, (const void *)start_tramp, 3, 0 } };
static const MemoryType memories[] = { { 1, 4, 0, 0 } };
static const ConstOp g0_init[] = { { 0, 0, {40, 0} }, { 0, 0, {2, 0} }, { 8, 0, {0, 0} } };  /* 40 + 2 */
static const GlobalDesc globals[] = { { {0x7f, 1}, S(g0_init) } };
static const Export exports[] = { { STR("_start"), 0, 5 }, { STR("memory"), 2, 0 } };
static const char hello[] = "Hello from hako!\n";
static const char to_stderr[] = "to stderr..\n";
#if VARIANT == 5
static const ConstOp d0_off[] = { { 0, 0, {65530, 0} } };
#else
static const ConstOp d0_off[] = { { 0, 0, {16, 0} } };
#endif
static const ConstOp d1_off[] = { { 0, 0, {48, 0} } };
static const DataSegment data[] = {
    { 0, 0, S(d0_off), { hello, sizeof(hello) - 1 } },
    { 0, 0, S(d1_off), { to_stderr, sizeof(to_stderr) - 1 } },
};

const ModuleDescriptor hako_main_module = {
    1, 0xffffffffu, S(types), S(imports), S(functions), {0, 0}, S(memories), S(globals),
    S(exports), S(data), {0, 0}, STR("fake"),
};

/* The image manifest (hako_abi::script::ImageManifest): a program image of this one module. */
typedef struct { uint32_t magic, abi_version, kind, pad; Slice modules, script; } ImageManifest;
static const ModuleDescriptor *const modules[] = { &hako_main_module };
const ImageManifest hako_image_manifest = {
    0x4f4b4148u /* "HAKO" */, 1, 0 /* PROGRAM */, 0, { modules, 1 }, { 0, 0 },
};
