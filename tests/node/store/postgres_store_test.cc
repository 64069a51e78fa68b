// PostgresStore beyond the shared contract (store_conformance_test.cc): group commit in batches,
// two nodes on one database, reopening, the schema version, the connection string's rules, the
// factory, and a session the server terminates. Each test takes a fresh database of the suite's
// PostgreSQL server (tests/support/postgres_server.h).
#include "node/store/postgres_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "node/store/libpq_api.h"
#include "node/store/store_factory.h"
#include "tests/node/store/sample_submit.h"
#include "tests/support/eventually.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_loop.h"

namespace ix::node {
namespace {

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conninfo_ = test::PostgresEnvironment::get().fresh_database();
    ASSERT_FALSE(conninfo_.empty());
    database_ = conninfo_.substr(conninfo_.find("dbname=") + 7);
    database_ = database_.substr(0, database_.find(' '));
  }

  std::unique_ptr<PostgresStore> open(bool group_commit = true, const std::string& application_name = "ixnode") {
    PostgresOptions options;
    options.conninfo = conninfo_;
    options.group_commit = group_commit;
    options.application_name = application_name;
    auto store = PostgresStore::open(loop_.get(), std::move(options));
    EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().text);
    return store.ok() ? std::move(store.value()) : nullptr;
  }

  static Transaction submit(int n) { return sample_submit(n); }

  Status commit_and_wait(Store& store, Transaction t) {
    std::optional<Status> result;
    store.commit(std::move(t), [&](const Status& s) { result = s; });
    EXPECT_TRUE(loop_.run_until([&] { return result.has_value(); }));
    return result.value_or(Status{Error{0, "no completion"}});
  }

  test::PostgresServer& server() { return *test::PostgresEnvironment::get().server(); }

  test::TestLoop loop_;
  std::string conninfo_;
  std::string database_;
};

TEST_F(PostgresStoreTest, GroupCommitAcknowledgesEveryTransactionInFewerBatches) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  int acknowledged = 0, failed = 0;
  for (int i = 1; i <= 20'000; ++i) {
    store->commit(submit(i), [&](const Status& s) { s.ok() ? ++acknowledged : ++failed; });
  }
  ASSERT_TRUE(loop_.run_until([&] { return acknowledged + failed == 20'000; }, 60'000));
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(store->stats().transactions, 20'000u);
  EXPECT_LT(store->stats().batches, 200u) << "transactions queued together commit together";
  auto state = store->load();
  ASSERT_TRUE(state.ok()) << state.error().text;
  EXPECT_EQ(state->interactions.size(), 20'000u) << "batches past libpq's parameter limit split into several statements";
  EXPECT_EQ(state->last_seq, 20'000u);
  ASSERT_EQ(state->counters.size(), 1u);
  EXPECT_EQ(state->counters[0].second, 20'000u);
  store->close();
}

TEST_F(PostgresStoreTest, WithoutGroupCommitEveryTransactionIsItsOwnBatch) {
  auto store = open(false);
  ASSERT_NE(store, nullptr);
  int acknowledged = 0;
  for (int i = 1; i <= 50; ++i) store->commit(submit(i), [&](const Status&) { ++acknowledged; });
  ASSERT_TRUE(loop_.run_until([&] { return acknowledged == 50; }));
  EXPECT_EQ(store->stats().batches, 50u);
  store->close();
}

TEST_F(PostgresStoreTest, CommittedDataSurvivesReopenAndDeletesAreKept) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    int done = 0;
    for (int i = 1; i <= 10; ++i) store->commit(submit(i), [&](const Status&) { ++done; });
    Transaction stop;
    stop.mutations.push_back(DeleteInteraction{"p1.3"});
    store->commit(std::move(stop), [&](const Status&) { ++done; });
    ASSERT_TRUE(loop_.run_until([&] { return done == 11; }));
    store->close();
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto state = store->load();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->interactions.size(), 9u);
  for (const auto& i : state->interactions) EXPECT_NE(i.id, "p1.3");
  EXPECT_EQ(state->last_seq, 10u);
  EXPECT_EQ(store->first_seq(), 1u) << "the first seq is read back on open";
  store->close();
}

TEST_F(PostgresStoreTest, FailedBatchReportsTheErrorToEveryTransaction) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  std::vector<std::string> errors;
  store->commit(submit(1), [&](const Status& s) { errors.push_back(s.ok() ? "" : s.error().text); });
  store->commit(submit(1), [&](const Status& s) { errors.push_back(s.ok() ? "" : s.error().text); });  // same seq
  ASSERT_TRUE(loop_.run_until([&] { return errors.size() == 2; }));
  EXPECT_NE(errors[1].find("duplicate key"), std::string::npos) << "a duplicate event seq cannot commit: " << errors[1];
  auto state = store->load();
  EXPECT_EQ(state->interactions.size(), errors[0].empty() ? 1u : 0u);
  EXPECT_EQ(state->last_seq, errors[0].empty() ? 1u : 0u);
  // Fail-stop: later work was numbered after the failed work, so nothing later commits.
  Status later = commit_and_wait(*store, submit(2));
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.error().text.find("an earlier commit failed, so this store commits nothing more"), std::string::npos)
      << later.error().text;
  EXPECT_EQ(store->load()->last_seq, errors[0].empty() ? 1u : 0u);
  store->close();
}

// The pair's two nodes open the same database, even at the same moment: the schema is created
// once, a lease decided through one is what the other reads, and acquirers racing through both
// never both win.
TEST_F(PostgresStoreTest, LeasesAreSharedByTheTwoNodesOfThePair) {
  auto primary = open();
  auto backup = open();
  ASSERT_TRUE(primary && backup);
  std::vector<LeaseOutcome> outcomes;
  for (int i = 0; i < 40; ++i) {
    PostgresStore& via = i % 2 == 0 ? *primary : *backup;
    via.lease({LeaseOp::kAcquire, "pacing-master", "proxy-" + std::to_string(i), 5'000, 2'000'000}, [&](Result<LeaseOutcome> r) {
      ASSERT_TRUE(r.ok()) << r.error().text;
      outcomes.push_back(std::move(r.value()));
    });
  }
  ASSERT_TRUE(loop_.run_until([&] { return outcomes.size() == 40; }));
  int granted = 0;
  for (const LeaseOutcome& o : outcomes) granted += o.granted ? 1 : 0;
  EXPECT_EQ(granted, 1);
  const std::string holder = std::find_if(outcomes.begin(), outcomes.end(), [](auto& o) { return o.granted; })->record.holder;
  for (const LeaseOutcome& o : outcomes) EXPECT_EQ(o.record.fencing, 1u);
  primary->close();
  primary.reset();

  std::optional<LeaseOutcome> seen;
  backup->lease({LeaseOp::kRenew, "pacing-master", holder, 5'000, 2'001'000}, [&](Result<LeaseOutcome> r) {
    ASSERT_TRUE(r.ok());
    seen = r.value();
  });
  ASSERT_TRUE(loop_.run_until([&] { return seen.has_value(); }));
  EXPECT_TRUE(seen->granted);
  EXPECT_EQ(seen->record.holder, holder);
  EXPECT_EQ(seen->record.fencing, 1u);
  backup->close();
}

// store.h: a commit is checked against the fence set when commit() was called, not when its
// batch runs, so work queued in an old term never commits under a newer epoch.
TEST_F(PostgresStoreTest, WorkQueuedUnderAnOldFenceIsCheckedAgainstIt) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  std::optional<LeaseOutcome> first, second;
  store->lease({LeaseOp::kAcquire, kPairLeaseName, "node-a", 3'000, 1'000'000}, [&](Result<LeaseOutcome> r) { first = r.value(); });
  store->lease({LeaseOp::kAcquire, kPairLeaseName, "node-b", 3'000, 1'003'001}, [&](Result<LeaseOutcome> r) { second = r.value(); });
  ASSERT_TRUE(loop_.run_until([&] { return first && second; }));
  ASSERT_EQ(second->record.fencing, 2u);
  std::optional<Status> old_term, new_term;
  store->set_fence({kPairLeaseName, "node-a", 1});
  store->commit(submit(1), [&](const Status& s) { old_term = s; });
  store->set_fence({kPairLeaseName, "node-b", 2});
  store->commit(submit(2), [&](const Status& s) { new_term = s; });
  ASSERT_TRUE(loop_.run_until([&] { return old_term && new_term; }));
  EXPECT_FALSE(old_term->ok()) << "queued under epoch 1, checked against epoch 1";
  EXPECT_TRUE(new_term->ok()) << new_term->error().text;
  EXPECT_EQ(store->stats().batches, 2u) << "one batch per fence";
  store->close();
}

TEST_F(PostgresStoreTest, NewerSchemaIsRefused) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    store->close();
  }
  ASSERT_TRUE(server().execute("UPDATE schema_version SET version = 99", database_).ok());
  PostgresOptions options;
  options.conninfo = conninfo_;
  auto store = PostgresStore::open(loop_.get(), options);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().text.find("schema version 99, newer than this ixnode's 4"), std::string::npos) << store.error().text;
}

TEST_F(PostgresStoreTest, APasswordInTheConnectionStringIsRefused) {
  for (const std::string conninfo : {"host=db user=ix password=hunter2", "postgresql://ix:hunter2@db/ix"}) {
    Status s = check_postgres_conninfo(conninfo);
    ASSERT_FALSE(s.ok()) << conninfo;
    EXPECT_NE(s.error().text.find("must not contain a password"), std::string::npos) << s.error().text;
    EXPECT_EQ(s.error().text.find("hunter2"), std::string::npos) << "the error does not repeat the secret";
  }
  Status bad = check_postgres_conninfo("host=db nonsense-key=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().text.find("not a valid libpq connection string"), std::string::npos) << bad.error().text;
  // TLS is allowed where libpq can be given its own OpenSSL, and refused with the reason elsewhere
  // (sanitizer builds, replaced malloc): never a crash at the first handshake.
  const Status tls = check_postgres_conninfo("host=db.internal dbname=ix user=ixnode sslmode=verify-full sslrootcert=/etc/ix/ca.pem");
  EXPECT_EQ(tls.ok(), libpq_tls_available());
  if (!tls.ok()) {
    EXPECT_NE(tls.error().text.find("TLS to PostgreSQL is not available"), std::string::npos) << tls.error().text;
  }

  config::NodePair pair;
  pair.id = "p1";
  pair.storage.postgresql = "host=127.0.0.1 password=hunter2";
  auto refused = make_store(loop_.get(), pair, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().text.find("node pair p1: storage.postgresql must not contain a password"), std::string::npos)
      << refused.error().text;
}

TEST_F(PostgresStoreTest, FactoryOpensThePairsPostgresDatabase) {
  config::NodePair pair;
  pair.id = "p1";
  pair.storage.postgresql = conninfo_;
  pair.storage.postgresql_password_env = "IX_TEST_UNSET_PASSWORD_VARIABLE";
  ::unsetenv("IX_TEST_UNSET_PASSWORD_VARIABLE");
  auto missing = make_store(loop_.get(), pair, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().text.find("IX_TEST_UNSET_PASSWORD_VARIABLE, which is not set"), std::string::npos)
      << missing.error().text;

  ::setenv("IX_TEST_PASSWORD_VARIABLE", "not-checked-by-trust-authentication", 1);
  pair.storage.postgresql_password_env = "IX_TEST_PASSWORD_VARIABLE";
  pair.settings.lease_timeout = std::chrono::milliseconds(3000);
  auto store = make_store(loop_.get(), pair, {});
  ASSERT_TRUE(store.ok()) << store.error().text;
  EXPECT_NE(dynamic_cast<PostgresStore*>(store->get()), nullptr);
  // The node's sessions carry its pair in application_name, so an operator can find them.
  auto sessions = server().query_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ixnode p1'", "postgres");
  ASSERT_TRUE(sessions.ok()) << sessions.error().text;
  EXPECT_EQ(*sessions, "2") << "a writer and a reader connection";
  (*store)->close();

  pair.storage.postgresql = "host=127.0.0.1 port=1 dbname=nowhere user=ix sslmode=disable";
  pair.storage.postgresql_password_env.clear();
  auto unreachable = make_store(loop_.get(), pair, {});
  ASSERT_FALSE(unreachable.ok());
  EXPECT_NE(unreachable.error().text.find("node pair p1: PostgreSQL: cannot connect"), std::string::npos) << unreachable.error().text;
}

// TLS to PostgreSQL with the server's certificate checked (sslmode=verify-full). This process
// also links BoringSSL, like ixnode: libpq is loaded so that its OpenSSL stays its own
// (node/store/libpq_api.h); linked plainly, this handshake crashes.
TEST_F(PostgresStoreTest, TlsWithVerifyFullChecksTheServersCertificate) {
  std::string tls = conninfo_;
  tls.replace(tls.find("sslmode=disable"), 15, "sslmode=verify-full sslrootcert=" + server().ca_file());
  PostgresOptions options;
  options.conninfo = tls;
  options.application_name = "ix-tls";
  if (!libpq_tls_available()) {  // a sanitizer build: refused up front, with the reason
    auto refused = PostgresStore::open(loop_.get(), options);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().text.find("TLS to PostgreSQL is not available"), std::string::npos) << refused.error().text;
    return;
  }
  auto store = PostgresStore::open(loop_.get(), options);
  ASSERT_TRUE(store.ok()) << store.error().text;
  ASSERT_TRUE(commit_and_wait(**store, submit(1)).ok());
  auto encrypted = server().query_value(
      "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE application_name = 'ix-tls' AND ssl", "postgres");
  ASSERT_TRUE(encrypted.ok()) << encrypted.error().text;
  EXPECT_EQ(*encrypted, "2") << "both of the store's sessions are encrypted";
  (*store)->close();

  // A root that did not sign the server's certificate: refused before anything is sent.
  const std::string wrong_root = server().dir() + "/not-the-ca-" + std::to_string(::getpid()) + ".pem";
  {
    std::ofstream(wrong_root) << test::test_certificates().client.cert_pem;
  }
  options.conninfo = conninfo_;
  options.conninfo.replace(options.conninfo.find("sslmode=disable"), 15, "sslmode=verify-full sslrootcert=" + wrong_root);
  auto refused = PostgresStore::open(loop_.get(), options);
  std::filesystem::remove(wrong_root);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().text.find("certificate verify failed"), std::string::npos) << refused.error().text;
}

// The server ends the store's sessions (pg_terminate_backend, a PostgreSQL restart) while they
// are idle: the store notices before its next piece of work and does it on a new session (work
// in flight when a session ends fails instead: PostgresPairTest covers that through the node).
TEST_F(PostgresStoreTest, ASessionTheServerEndsIsReopenedForTheNextPieceOfWork) {
  auto store = open(true, "ix-terminated");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(commit_and_wait(*store, submit(1)).ok());
  auto ended = server().query_value(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'ix-terminated'", "postgres");
  ASSERT_TRUE(ended.ok()) << ended.error().text;
  ASSERT_EQ(*ended, "2");
  ASSERT_TRUE(test::eventually([&] {
    auto left = server().query_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ix-terminated'", "postgres");
    return left.ok() && *left == "0";
  })) << "the server ends the sessions";
  Status again = commit_and_wait(*store, submit(3));
  EXPECT_TRUE(again.ok()) << "the ended session is noticed before the commit, which runs on a new one: "
                          << again.error().text;
  auto sessions = server().query_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ix-terminated'", "postgres");
  ASSERT_TRUE(sessions.ok());
  EXPECT_EQ(*sessions, "1") << "the writer reconnected (the reader has not been used yet)";
  std::optional<Result<std::vector<StoredEvent>>> events;
  store->read_events(0, 10, [&](Result<std::vector<StoredEvent>> r) { events = std::move(r); });
  ASSERT_TRUE(loop_.run_until([&] { return events.has_value(); }));
  ASSERT_TRUE(events->ok()) << events->error().text;
  ASSERT_EQ(events->value().size(), 2u);
  EXPECT_EQ(events->value()[0].seq, 1u);
  EXPECT_EQ(events->value()[1].seq, 3u);
  store->close();
}

// A primary frozen with its batch's results unread keeps its transaction open, and the pair's
// lease row locked by the fence check, on a server that is not idle in it (it waits for the
// client to read): here a session of its own holds the row FOR UPDATE the same way. While the
// lease is within its term the backup's acquire waits a try interval and is not granted; once the
// term has run out it ends that session and takes the lease.
TEST_F(PostgresStoreTest, ABackupEndsTheSessionOfAnExpiredHolderThatKeepsTheLeaseRowLocked) {
  auto primary = open(true, "ix-frozen-primary");
  auto backup = open();
  ASSERT_TRUE(primary && backup);
  auto acquire = [&](PostgresStore& via, const std::string& holder, int64_t now_ms) {
    std::optional<Result<LeaseOutcome>> got;
    via.lease({LeaseOp::kAcquire, kPairLeaseName, holder, 1'000, now_ms}, [&](Result<LeaseOutcome> r) { got = std::move(r); });
    EXPECT_TRUE(loop_.run_until([&] { return got.has_value(); }, 10'000));
    return got.value_or(Result<LeaseOutcome>(Error{0, "no answer"}));
  };
  Result<LeaseOutcome> first = acquire(*primary, "primary", 1'000'000);
  ASSERT_TRUE(first.ok() && first->granted) << (first.ok() ? "" : first.error().text);

  PostgresOptions options;
  options.conninfo = conninfo_;
  options.application_name = "ix-frozen-primary";
  Result<pg_conn*> frozen = connect_postgres(options);
  ASSERT_TRUE(frozen.ok()) << frozen.error().text;
  PGresult* locked = pq().PQexec(*frozen, "BEGIN; SELECT holder FROM leases WHERE name = 'ixnode.pair' FOR UPDATE");
  ASSERT_EQ(pq().PQresultStatus(locked), PGRES_TUPLES_OK) << pq().PQerrorMessage(*frozen);
  pq().PQclear(locked);

  Result<LeaseOutcome> early = acquire(*backup, "backup", 1'000'500);
  ASSERT_TRUE(early.ok()) << early.error().text;
  EXPECT_FALSE(early->granted) << "within the holder's term: a busy holder keeps its lease";
  EXPECT_EQ(early->record.holder, "primary");

  Result<LeaseOutcome> late = acquire(*backup, "backup", 1'002'000);
  ASSERT_TRUE(late.ok()) << late.error().text;
  EXPECT_TRUE(late->granted) << "the term ran out: the session keeping the row locked is ended";
  EXPECT_EQ(late->record.holder, "backup");
  EXPECT_EQ(late->record.fencing, 2u);
  PGresult* after = pq().PQexec(*frozen, "SELECT 1");
  EXPECT_NE(pq().PQresultStatus(after), PGRES_TUPLES_OK) << "the frozen holder's session was ended";
  pq().PQclear(after);
  pq().PQfinish(*frozen);
  primary->close();
  backup->close();
}

}  // namespace
}  // namespace ix::node
