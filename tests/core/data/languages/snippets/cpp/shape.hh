#pragma once

#include <memory>

namespace geo {

class Shape {
 public:
  virtual ~Shape() = default;
  virtual double area() const = 0;
};

std::unique_ptr<Shape> make_square(double side);

}  // namespace geo
