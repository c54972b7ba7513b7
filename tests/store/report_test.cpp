#include <gtest/gtest.h>

#include "store/report.h"

namespace sax {
namespace {

TEST(FleissKappa, MatchesAHandComputedCaseWithUnequalRaters) {
  // Items: (sax 3), (sax 2, not 1), (not 2). P_i = 1, 1/3, 1 -> P = 7/9.
  // Totals: sax 5, not 3 of 8 -> Pe = 25/64 + 9/64 = 34/64.
  // kappa = (7/9 - 34/64) / (1 - 34/64) = 0.5260...
  const double expected = (7.0 / 9.0 - 34.0 / 64.0) / (1.0 - 34.0 / 64.0);
  EXPECT_NEAR(fleiss_kappa({{3, 0, 0}, {2, 1, 0}, {0, 2, 0}}), expected, 1e-12);
}

TEST(FleissKappa, IgnoresSingleVotesAndHandlesDegenerateCases) {
  EXPECT_EQ(fleiss_kappa({}), 0.0);
  EXPECT_EQ(fleiss_kappa({{1, 0, 0}, {0, 1, 0}}), 0.0);
  EXPECT_EQ(fleiss_kappa({{2, 0, 0}, {3, 0, 0}}), 1.0);
  // Complete disagreement on every item is worse than chance.
  EXPECT_LT(fleiss_kappa({{1, 1, 0}, {1, 1, 0}, {0, 1, 1}}), 0.0);
  EXPECT_NEAR(fleiss_kappa({{2, 0, 0}, {0, 2, 0}, {9, 0, 0}, {1, 0, 0}}), 1.0, 1e-12);
}

TEST(SummariseVotes, CountsDaysAndTodayPerAnnotator) {
  std::vector<Vote> votes = {{1, "ana", Label::sax, "2026-01-01T10:00:00.000Z"},
                             {2, "ana", Label::sax, "2026-01-02T10:00:00.000Z"},
                             {2, "bob", Label::not_sax, "2026-01-02T11:00:00.000Z"}};
  StatusReport report;
  summarise_votes(votes, "2026-01-02", report);
  EXPECT_EQ(report.votes_by_day.at("2026-01-01"), 1);
  EXPECT_EQ(report.votes_by_day.at("2026-01-02"), 2);
  ASSERT_EQ(report.annotators.size(), 2u);
  EXPECT_EQ(report.annotators[0].name, "ana");
  EXPECT_EQ(report.annotators[0].votes, 2);
  EXPECT_EQ(report.annotators[0].today, 1);
  EXPECT_EQ(report.annotators[0].agreement, 0.0);  // sample 2 is a tie: unsure
  EXPECT_EQ(report.by_vote_count.at(1), 1);
  EXPECT_EQ(report.by_vote_count.at(2), 1);
  EXPECT_EQ(report.labeled, 2);
}

}  // namespace
}  // namespace sax
