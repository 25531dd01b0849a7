<?hh

async function fetch_user_name(int $id): Awaitable<string> {
  $row = await UserStore::load($id);
  return $row['name'];
}
