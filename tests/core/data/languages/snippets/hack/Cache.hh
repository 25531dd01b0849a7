<?hh // strict

namespace App\Cache;

final class Cache<Tk as arraykey, Tv> {
  private dict<Tk, Tv> $items = dict[];

  public function get(Tk $key): ?Tv {
    return $this->items[$key] ?? null;
  }

  public function set(Tk $key, Tv $value): void {
    $this->items[$key] = $value;
  }
}
