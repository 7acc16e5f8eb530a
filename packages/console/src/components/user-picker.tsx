/** Choosing end users of one environment: a group's first members and the Assign Users panel. */
import { useState } from 'react';
import { Person, PickList, useDebounced } from '../components/ui';
import { useApi } from '../hooks/use-api';

/** End users of one environment, searched by email, to pick from. */
export function UserPicker({
  environment,
  exclude,
  selected,
  onChange,
  label,
}: {
  environment: string;
  exclude: number[];
  selected: string[];
  onChange: (s: string[]) => void;
  label: string;
}) {
  const [search, setSearch] = useState('');
  const email = useDebounced(search);
  const users = useApi('listEndUsers', {
    query: {
      email,
      environment_type: environment,
      'page[size]': 50,
      sort: 'email',
      direction: 'asc',
    },
  });
  const items = (users.data?.data ?? []).filter((u) => !exclude.includes(u.id));
  return (
    <PickList
      label={label}
      items={items}
      itemKey={(u) => String(u.id)}
      render={(u) => <Person name={u.name} email={u.email} avatarUrl={u.avatar_url} />}
      selected={selected}
      onChange={onChange}
      search={search}
      onSearch={setSearch}
      emptyText={
        users.loading ? 'Loading…' : `No users with access to ${environment.toUpperCase()} match.`
      }
    />
  );
}
