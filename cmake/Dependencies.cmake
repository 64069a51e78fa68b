# Finds every third-party dependency (all from Debian's packages; scripts/install-deps.sh installs
# them) and presents each as an imported target. See ../shared/DEPENDENCIES.md for the shapes.

find_package(PkgConfig REQUIRED)
pkg_check_modules(UV REQUIRED IMPORTED_TARGET libuv)
# libpq (libpq-dev): the PostgreSQL client library behind PostgresStore.
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)

find_package(FlatBuffers REQUIRED)
find_program(FLATC_EXECUTABLE flatc REQUIRED)
find_package(mimalloc REQUIRED)
find_package(GTest REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)
if(IX_BENCH)
  find_package(benchmark REQUIRED)
endif()

# llhttp: node-llhttp ships C sources, not a library. Compile them into a static library of ours.
set(IX_LLHTTP_SOURCE_DIR /usr/share/llhttp CACHE PATH "llhttp C sources (node-llhttp)")
set(IX_LLHTTP_INCLUDE_DIR /usr/share/include/llhttp CACHE PATH "llhttp header (node-llhttp)")
if(NOT EXISTS ${IX_LLHTTP_SOURCE_DIR}/llhttp.c OR NOT EXISTS ${IX_LLHTTP_INCLUDE_DIR}/llhttp.h)
  message(FATAL_ERROR "llhttp sources not found; run scripts/install-deps.sh (package node-llhttp)")
endif()
add_library(ix_llhttp STATIC
  ${IX_LLHTTP_SOURCE_DIR}/api.c ${IX_LLHTTP_SOURCE_DIR}/http.c ${IX_LLHTTP_SOURCE_DIR}/llhttp.c)
target_include_directories(ix_llhttp SYSTEM PUBLIC ${IX_LLHTTP_INCLUDE_DIR})
set_target_properties(ix_llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON C_STANDARD 99)
target_compile_options(ix_llhttp PRIVATE -w)

# BoringSSL: android-libboringssl-dev puts headers in include/android/openssl and the shared
# libraries in lib/<arch>/android. Link by path and record an RPATH so binaries find them.
find_path(IX_BORINGSSL_INCLUDE_DIR openssl/ssl.h PATHS /usr/include/android NO_DEFAULT_PATH REQUIRED)
find_library(IX_BORINGSSL_SSL ssl PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android NO_DEFAULT_PATH REQUIRED)
find_library(IX_BORINGSSL_CRYPTO crypto PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android NO_DEFAULT_PATH REQUIRED)
get_filename_component(IX_BORINGSSL_LIB_DIR ${IX_BORINGSSL_SSL} DIRECTORY)
add_library(ix_boringssl INTERFACE)
target_include_directories(ix_boringssl SYSTEM INTERFACE ${IX_BORINGSSL_INCLUDE_DIR})
target_link_libraries(ix_boringssl INTERFACE ${IX_BORINGSSL_SSL} ${IX_BORINGSSL_CRYPTO})
target_link_options(ix_boringssl INTERFACE "-Wl,-rpath,${IX_BORINGSSL_LIB_DIR}")
