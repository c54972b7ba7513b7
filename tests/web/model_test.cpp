// GET /api/model and the model pictures behind /model.
#include <fstream>

#include "infer/efficientat.h"
#include "web/web_fixture.h"

namespace sax::web::testing {
namespace {

TEST_F(WebTest, NoModelSaysHowToGetOne) {
  start();
  const auto model = json_of(client().Get("/api/model"));
  EXPECT_EQ(model.at("available"), false);
  EXPECT_NE(model.at("message").get<std::string>().find("saxdetect train"), std::string::npos);
  EXPECT_NE(model.at("message").get<std::string>().find("saxdetect demo"), std::string::npos);
  EXPECT_NE(model.at("message").get<std::string>().find("built-in"), std::string::npos);
  EXPECT_EQ(model.at("builtin").at("calibrated"), false);
  EXPECT_EQ(model.at("builtin").at("threshold"), kEfficientAtZeroShotThreshold);
}

TEST_F(WebTest, NoModelShowsTheCalibratedBuiltInThreshold) {
  save_builtin_threshold(home_.models(), {{"threshold", 0.125}});
  start();
  const auto model = json_of(client().Get("/api/model"));
  EXPECT_EQ(model.at("builtin").at("calibrated"), true);
  EXPECT_EQ(model.at("builtin").at("threshold"), 0.125);
}

TEST_F(WebTest, CurrentModelShowsItsMetricsAndPictures) {
  const auto folder = home_.models() / "cnn-1";
  std::filesystem::create_directories(folder);
  std::ofstream(folder / "model.json")
      << R"({"threshold":0.42,"metrics":{"test":{"roc_auc":0.97}}})";
  std::ofstream(folder / "training.svg") << "<svg xmlns='http://www.w3.org/2000/svg'/>";
  std::ofstream(folder / "model.safetensors") << "weights";
  std::ofstream(home_.models() / "current") << "cnn-1\n";
  start();
  const auto model = json_of(client().Get("/api/model"));
  ASSERT_EQ(model.at("available"), true) << model.dump();
  EXPECT_EQ(model.at("name"), "cnn-1");
  EXPECT_EQ(model.at("model").at("threshold"), 0.42);
  EXPECT_FALSE(model.at("pictures").contains("roc"));  // not written: not offered
  const std::string training = model.at("pictures").at("training");
  auto picture = client().Get(training);
  ASSERT_EQ(picture->status, 200);
  EXPECT_EQ(picture->get_header_value("Content-Type"), "image/svg+xml");
  EXPECT_EQ(client().Get("/media/models/cnn-1/model.safetensors")->status,
            404);  // weights stay private
  EXPECT_EQ(client().Get("/media/models/cnn-1/model.json")->status, 404);
}

}  // namespace
}  // namespace sax::web::testing
