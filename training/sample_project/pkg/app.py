from pkg.shapes import Point, Square


def total_area(squares: list[Square]) -> float:
    return sum(s.area() for s in squares)


def origin_distance(p: Point) -> float:
    return p.norm()


def broken() -> int:
    return "not an int"


def main() -> None:
    point = Point(3.0, 4.0)
    print(origin_distance(point), total_area([Square(2.0)]))
