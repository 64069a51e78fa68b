#include "node/store/store_factory.h"

#include <cstdlib>

#include "node/store/postgres_store.h"
#include "node/store/sqlite_store.h"

namespace ix::node {

Result<std::unique_ptr<Store>> make_store(uv_loop_t* loop, const config::NodePair& pair, StoreOptions options) {
  if (!pair.storage.postgresql.empty()) {
    PostgresOptions pg;
    pg.conninfo = pair.storage.postgresql;
    if (Status s = check_postgres_conninfo(pg.conninfo); !s) return Error{0, "node pair " + pair.id + ": " + s.error().text};
    if (!pair.storage.postgresql_password_env.empty()) {
      const char* password = std::getenv(pair.storage.postgresql_password_env.c_str());
      if (password == nullptr) {
        return Error{0, "node pair " + pair.id + ": postgresql-password-env names " + pair.storage.postgresql_password_env +
                            ", which is not set in ixnode's environment"};
      }
      pg.password = password;
    }
    pg.group_commit = options.group_commit;
    if (pair.settings.lease_timeout.count() > 0) {
      pg.dead_peer_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(pair.settings.lease_timeout);
    }
    pg.application_name = "ixnode " + pair.id;
    auto store = PostgresStore::open(loop, std::move(pg));
    if (!store) return Error{0, "node pair " + pair.id + ": " + store.error().text};
    return std::unique_ptr<Store>(std::move(store.value()));
  }
  if (pair.storage.sqlite_path.empty()) {
    return Error{0, "node pair " + pair.id + " has neither sqlite-path nor postgresql storage"};
  }
  auto store = SqliteStore::open(loop, {pair.storage.sqlite_path, true, options.group_commit, 10'000});
  if (!store) return store.error();
  return std::unique_ptr<Store>(std::move(store.value()));
}

}  // namespace ix::node
